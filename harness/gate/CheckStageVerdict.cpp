#include "harness/gate/CheckStageVerdict.h"

namespace hph {

using nlohmann::json;

StageVerdict checkStageVerdict(const json* scenarioReport, const std::string& broken, const std::string& part) {
  if (!broken.empty()) return {"fail", broken};
  if (!scenarioReport) return {"fail", "not in hph check's report"};
  const json& found = *scenarioReport;
  const json exploration = found.value("exploration", json::object());
  std::string detail = found.value("verdict", "?");
  if (found.contains("counterexample") && found["counterexample"].contains("violation"))
    detail += ": " + found["counterexample"]["violation"].value("message", "");
  else if (found.contains("message"))  // a refusal, bad input: why
    detail += ": " + found.value("message", "");
  // A shard may own no schedule that reaches a checker's window: its part is vacuous, and
  // only the merged exploration can say whether the whole is.
  const bool partVacuous = part != "0/1" && found.value("verdict", "") == "vacuous";
  if (found.value("verdict", "") != "holds" && !partVacuous) return {"fail", detail};
  // hph merge's report of the shards says "0/1 (merged from N shards)": all of it.
  std::string explored = exploration.value("shard", "0/1");
  explored = explored.substr(0, explored.find(' '));
  if (explored != part)
    return {"fail",
            part == "0/1" ? "explored shard " + explored + " only" : "explored shard " + explored + ", not " + part};
  return {"pass", partVacuous ? "vacuous in this part; the merge judges the whole" : ""};
}

}  // namespace hph
