#include "harness/gate/CheckStageVerdict.h"

namespace hph {

using nlohmann::json;

StageVerdict checkStageVerdict(const json* scenarioReport, const std::string& broken, const std::string& part) {
  if (!scenarioReport) return {"fail", broken.empty() ? "not in hph check's report" : broken};
  const json& found = *scenarioReport;
  const json exploration = found.value("exploration", json::object());
  std::string detail = found.value("verdict", "?");
  if (found.contains("counterexample") && found["counterexample"].contains("violation"))
    detail += ": " + found["counterexample"]["violation"].value("message", "");
  else if (found.contains("message"))  // a refusal, bad input: why
    detail += ": " + found.value("message", "");
  if (found.value("verdict", "") != "holds") return {"fail", detail};
  // hph merge's report of the shards says "0/1 (merged from N shards)": all of it.
  std::string explored = exploration.value("shard", "0/1");
  explored = explored.substr(0, explored.find(' '));
  if (explored != part)
    return {"fail",
            part == "0/1" ? "explored shard " + explored + " only" : "explored shard " + explored + ", not " + part};
  return {"pass", ""};
}

}  // namespace hph
