#include "host/HostJob.h"

#include "plan/PlanJson.h"
#include "support/HexText.h"

namespace hph {
namespace {

using nlohmann::json;

json regionToJson(const HostRegion& r) {
  json j = {{"address", r.address}, {"bytes", hexBytes(r.bytes, HexLayout::kPacked)}};
  if (!r.name.empty()) j["name"] = r.name;
  return j;
}

std::optional<HostRegion> regionFromJson(const json& j, std::string& error) {
  if (!j.is_object() || !j.contains("address") || !j.contains("bytes") || !j["address"].is_number_unsigned() ||
      !j["bytes"].is_string()) {
    error = "a region needs 'address' and 'bytes'";
    return std::nullopt;
  }
  HostRegion r{j["address"].get<uint64_t>(),
               {},
               j.contains("name") && j["name"].is_string() ? j["name"].get<std::string>() : ""};
  const std::string hex = j["bytes"].get<std::string>();
  if (!hex.empty()) {
    auto bytes = parseHexBytes(hex, HexBytesSyntax{});
    if (!bytes) {
      error = "a region's 'bytes' are not hex";
      return std::nullopt;
    }
    r.bytes = std::move(*bytes);
  }
  return r;
}

json counterToJson(const std::optional<HostCounter>& counter) {
  if (!counter) return nullptr;
  return {{"address", counter->address}, {"variable", counter->variable}};
}

std::optional<HostCounter> counterFromJson(const json& job, const char* field) {
  if (!job.contains(field) || job[field].is_null()) return std::nullopt;
  return HostCounter{job[field].at("address").get<uint64_t>(), job[field].at("variable").get<bool>()};
}

}  // namespace

std::vector<HostMapping> memfdLayout(const HostJob& job) {
  std::vector<HostMapping> layout;
  uint64_t offset = 0;
  for (const HostRegion& r : job.regions) {
    layout.push_back({r.address, r.bytes.size(), offset});
    offset += r.bytes.size();
  }
  return layout;
}

json hostJobToJson(const HostJob& job) {
  json regions = json::array(), protections = json::array(), readBack = json::array();
  for (const HostRegion& r : job.regions) regions.push_back(regionToJson(r));
  for (const HostProtection& p : job.protections)
    protections.push_back({{"address", p.address}, {"size", p.size}, {"permissions", p.permissions}});
  for (const HostRange& r : job.readBack) readBack.push_back({{"address", r.address}, {"size", r.size}});
  json shims = json::array();
  for (const HostShim& s : job.shims)
    shims.push_back({{"address", s.address}, {"dll", s.dll}, {"function", s.function}});
  return {{"schema", "hph-host-job/1"},
          {"arch", job.arch},
          {"patcher", job.patcher == HostPatcherKind::kExternal ? "external" : "in-process"},
          {"regions", regions},
          {"protections", protections},
          {"thread_entry", job.threadEntry},
          {"threads", job.threads},
          {"invariant_entry", job.invariantEntry ? json(*job.invariantEntry) : json(nullptr)},
          {"duration_ms", job.durationMs},
          {"apply_at_ms", job.applyAtMs},
          {"plan", planToJson(job.plan)},
          {"read_back", readBack},
          {"breakpoint_redirects", job.breakpointRedirects},
          {"kill_patcher_after_step", job.killPatcherAfterStep ? json(*job.killPatcherAfterStep) : json(nullptr)},
          {"applications", job.applications},
          {"park_at", job.parkAt ? json(*job.parkAt) : json(nullptr)},
          {"forward_steps", job.forwardSteps},
          {"private_images", job.privateImages},
          {"calls_counter", counterToJson(job.callsCounter)},
          {"new_calls_counter", counterToJson(job.newCallsCounter)},
          {"shims", shims},
          {"movable",
           job.movable ? json{{"begin", job.movable->begin}, {"end", job.movable->end}, {"limit", job.movable->limit}}
                       : json(nullptr)}};
}

std::optional<HostJob> hostJobFromJson(const json& j, std::string& error) {
  HostJob job;
  try {
    if (j.value("schema", "") != "hph-host-job/1") {
      error = "'schema': not hph-host-job/1";
      return std::nullopt;
    }
    job.arch = j.at("arch").get<std::string>();
    const std::string patcher = j.at("patcher").get<std::string>();
    if (patcher != "in-process" && patcher != "external") {
      error = "'patcher': not in-process or external";
      return std::nullopt;
    }
    job.patcher = patcher == "external" ? HostPatcherKind::kExternal : HostPatcherKind::kInProcess;
    for (const json& r : j.at("regions")) {
      auto region = regionFromJson(r, error);
      if (!region) return std::nullopt;
      job.regions.push_back(std::move(*region));
    }
    for (const json& p : j.at("protections"))
      job.protections.push_back(
          {p.at("address").get<uint64_t>(), p.at("size").get<uint64_t>(), p.at("permissions").get<uint32_t>()});
    job.threadEntry = j.at("thread_entry").get<uint64_t>();
    job.threads = j.at("threads").get<uint32_t>();
    if (!j.at("invariant_entry").is_null()) job.invariantEntry = j["invariant_entry"].get<uint64_t>();
    job.durationMs = j.at("duration_ms").get<uint32_t>();
    job.applyAtMs = j.at("apply_at_ms").get<uint32_t>();
    job.breakpointRedirects = j.at("breakpoint_redirects").get<std::vector<std::pair<uint64_t, uint64_t>>>();
    job.applications = j.at("applications").get<uint32_t>();
    if (!j.at("park_at").is_null()) job.parkAt = j["park_at"].get<uint64_t>();
    job.forwardSteps = j.at("forward_steps").get<uint32_t>();
    job.privateImages = j.value("private_images", false);
    job.callsCounter = counterFromJson(j, "calls_counter");
    job.newCallsCounter = counterFromJson(j, "new_calls_counter");
    if (!j.at("kill_patcher_after_step").is_null())
      job.killPatcherAfterStep = j["kill_patcher_after_step"].get<uint32_t>();
    for (const json& r : j.at("read_back"))
      job.readBack.push_back({r.at("address").get<uint64_t>(), r.at("size").get<uint64_t>()});
    if (j.contains("shims"))
      for (const json& s : j["shims"])
        job.shims.push_back(
            {s.at("address").get<uint64_t>(), s.at("dll").get<std::string>(), s.at("function").get<std::string>()});
    if (j.contains("movable") && !j["movable"].is_null()) {
      const json& m = j["movable"];
      job.movable =
          HostMovableSpan{m.at("begin").get<uint64_t>(), m.at("end").get<uint64_t>(), m.at("limit").get<uint64_t>()};
    }
  } catch (const json::exception& e) {
    error = e.what();
    return std::nullopt;
  }
  auto plan = planFromJson(j["plan"], error);
  if (!plan) {
    error = "'plan': " + error;
    return std::nullopt;
  }
  job.plan = std::move(*plan);
  if (job.privateImages && (!job.plan.steps.empty() || job.patcher != HostPatcherKind::kInProcess)) {
    error = "'private_images': only with an empty plan and no external patcher (no patcher reaches private pages)";
    return std::nullopt;
  }
  return job;
}

json hostResultToJson(const HostResult& result) {
  json faults = json::array(), finalBytes = json::array();
  for (const HostFault& f : result.faults) faults.push_back({{"thread", f.thread}, {"pc", f.pc}, {"signal", f.signal}});
  for (const HostRegion& r : result.finalBytes) finalBytes.push_back(regionToJson(r));
  json changed = json::array();
  for (const HostRange& r : result.changed) changed.push_back({{"address", r.address}, {"size", r.size}});
  return {{"schema", "hph-host-result/1"},
          {"calls", result.calls},
          {"calls_before_plan", result.callsBeforePlan},
          {"calls_after_plan", result.callsAfterPlan},
          {"faults", faults},
          {"invariant", result.invariant ? json(*result.invariant) : json(nullptr)},
          {"final_bytes", finalBytes},
          {"changed", changed},
          {"apply_ns", result.applyNanoseconds},
          {"application_ns", result.applicationNanoseconds},
          {"step_ns", result.stepNanoseconds},
          {"call_ns_steady", result.callNsSteady.toJson()},
          {"call_ns_during_apply", result.callNsDuringApply.toJson()},
          {"counters_after_plan", result.countersAfterPlan ? json(*result.countersAfterPlan) : json(nullptr)},
          {"counters_at_end", result.countersAtEnd ? json(*result.countersAtEnd) : json(nullptr)},
          {"gave_up", result.gaveUp},
          {"move_retries", result.moveRetries},
          {"patcher_realtime", result.patcherRealTime},
          {"error", result.error},
          {"movable_span_fits", result.movableSpanFits ? json(*result.movableSpanFits) : json(nullptr)}};
}

std::optional<HostResult> hostResultFromJson(const json& j, std::string& error) {
  HostResult result;
  try {
    if (j.value("schema", "") != "hph-host-result/1") {
      error = "'schema': not hph-host-result/1";
      return std::nullopt;
    }
    result.calls = j.at("calls").get<std::vector<uint64_t>>();
    result.callsBeforePlan = j.at("calls_before_plan").get<uint64_t>();
    result.callsAfterPlan = j.at("calls_after_plan").get<uint64_t>();
    for (const json& f : j.at("faults"))
      result.faults.push_back({f.at("thread").get<uint32_t>(), f.at("pc").get<uint64_t>(), f.at("signal").get<int>()});
    if (!j.at("invariant").is_null()) result.invariant = j["invariant"].get<uint64_t>();
    for (const json& r : j.at("final_bytes")) {
      auto region = regionFromJson(r, error);
      if (!region) return std::nullopt;
      result.finalBytes.push_back(std::move(*region));
    }
    for (const json& r : j.at("changed"))
      result.changed.push_back({r.at("address").get<uint64_t>(), r.at("size").get<uint64_t>()});
    result.applyNanoseconds = j.at("apply_ns").get<uint64_t>();
    result.applicationNanoseconds = j.at("application_ns").get<std::vector<uint64_t>>();
    result.stepNanoseconds = j.at("step_ns").get<std::vector<uint64_t>>();
    if (j.contains("call_ns_steady")) result.callNsSteady = LatencyHistogram::fromJson(j["call_ns_steady"]);
    if (j.contains("counters_after_plan") && !j["counters_after_plan"].is_null())
      result.countersAfterPlan = j["counters_after_plan"].get<std::pair<uint64_t, uint64_t>>();
    if (j.contains("counters_at_end") && !j["counters_at_end"].is_null())
      result.countersAtEnd = j["counters_at_end"].get<std::pair<uint64_t, uint64_t>>();
    result.gaveUp = j.value("gave_up", std::string());
    result.moveRetries = j.value("move_retries", 0u);
    result.patcherRealTime = j.value("patcher_realtime", false);
    if (j.contains("call_ns_during_apply"))
      result.callNsDuringApply = LatencyHistogram::fromJson(j["call_ns_during_apply"]);
    result.error = j.at("error").get<std::string>();
    if (j.contains("movable_span_fits") && !j["movable_span_fits"].is_null())
      result.movableSpanFits = j["movable_span_fits"].get<uint64_t>();
  } catch (const json::exception& e) {
    error = e.what();
    return std::nullopt;
  }
  return result;
}

}  // namespace hph
