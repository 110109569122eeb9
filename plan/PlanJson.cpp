#include "plan/PlanJson.h"

#include "support/HexText.h"

namespace hph {
namespace {

using nlohmann::json;

struct StepJson {
  json operator()(const StoreStep& s) const {
    return {{"kind", "store"},         {"address", s.address}, {"bytes", hexBytes(s.bytes, HexLayout::kPacked)},
            {"width", s.bytes.size()}, {"live", s.live},       {"data", s.data},
            {"label", s.label}};
  }
  json operator()(const CacheMaintenanceStep& s) const {
    return {{"kind", "cache-maintenance"},
            {"address", s.address},
            {"size", s.size},
            {"label", s.label},
            {"clean_data", s.cleanData},
            {"invalidate_instructions", s.invalidateInstructions}};
  }
  json operator()(const SyncAllStep& s) const { return {{"kind", "sync-all"}, {"label", s.label}}; }
  json operator()(const SuspendAllStep&) const { return {{"kind", "suspend-all"}}; }
  json operator()(const ResumeAllStep&) const { return {{"kind", "resume-all"}}; }
  json operator()(const MovePcStep& s) const {
    return {{"kind", "move-pc"},          {"from", s.from},      {"size", s.size}, {"to", s.to},
            {"boundaries", s.boundaries}, {"retries", s.retries}};
  }
  json operator()(const ReleaseStep& s) const {
    return {{"kind", "release"}, {"address", s.address}, {"size", s.size}, {"label", s.label}};
  }
};

// Reads field `name` of `j` as T; false (and `error` set) when it is missing or mistyped.
template <class T> bool field(const json& j, const char* name, T& out, std::string& error) {
  const auto found = j.find(name);
  if (found == j.end()) {
    error = std::string("'") + name + "': missing";
    return false;
  }
  try {
    out = found->get<T>();
    return true;
  } catch (const json::exception&) {
    error = std::string("'") + name + "': wrong type";
    return false;
  }
}

}  // namespace

json stepToJson(const Step& step) { return std::visit(StepJson{}, step); }

std::optional<Step> stepFromJson(const json& j, std::string& error) {
  std::string kind;
  if (!j.is_object() || !field(j, "kind", kind, error)) {
    if (error.empty()) error = "not an object";
    return std::nullopt;
  }
  if (kind == "store") {
    StoreStep s;
    std::string hex;
    if (!field(j, "address", s.address, error) || !field(j, "bytes", hex, error) || !field(j, "live", s.live, error) ||
        !field(j, "data", s.data, error) || !field(j, "label", s.label, error))
      return std::nullopt;
    auto bytes = parseHexBytes(hex, HexBytesSyntax{});
    if (!bytes || bytes->empty()) {
      error = "'bytes': not hex bytes";
      return std::nullopt;
    }
    s.bytes = std::move(*bytes);
    return s;
  }
  if (kind == "cache-maintenance") {
    CacheMaintenanceStep s;
    if (!field(j, "address", s.address, error) || !field(j, "size", s.size, error) ||
        !field(j, "label", s.label, error) || !field(j, "clean_data", s.cleanData, error) ||
        !field(j, "invalidate_instructions", s.invalidateInstructions, error))
      return std::nullopt;
    return s;
  }
  if (kind == "sync-all") {
    SyncAllStep s;
    if (!field(j, "label", s.label, error)) return std::nullopt;
    return s;
  }
  if (kind == "suspend-all") return SuspendAllStep{};
  if (kind == "resume-all") return ResumeAllStep{};
  if (kind == "move-pc") {
    MovePcStep s;
    if (!field(j, "from", s.from, error) || !field(j, "size", s.size, error) || !field(j, "to", s.to, error) ||
        !field(j, "boundaries", s.boundaries, error) || !field(j, "retries", s.retries, error))
      return std::nullopt;
    return s;
  }
  if (kind == "release") {
    ReleaseStep s;
    if (!field(j, "address", s.address, error) || !field(j, "size", s.size, error) ||
        !field(j, "label", s.label, error))
      return std::nullopt;
    return s;
  }
  error = "'kind': unknown step '" + kind + "'";
  return std::nullopt;
}

json planToJson(const Plan& plan) {
  json steps = json::array();
  for (const Step& step : plan.steps) steps.push_back(stepToJson(step));
  return steps;
}

std::optional<Plan> planFromJson(const json& steps, std::string& error) {
  if (!steps.is_array()) {
    error = "not an array of steps";
    return std::nullopt;
  }
  Plan plan;
  for (size_t i = 0; i < steps.size(); ++i) {
    auto step = stepFromJson(steps[i], error);
    if (!step) {
      error = "step " + std::to_string(i + 1) + ": " + error;
      return std::nullopt;
    }
    plan.steps.push_back(std::move(*step));
  }
  return plan;
}

}  // namespace hph
