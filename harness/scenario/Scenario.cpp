#include "harness/scenario/Scenario.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <toml++/toml.h>

#include "harness/scenario/Limits.h"
#include "harness/scenario/TableReader.h"
#include "support/EchoText.h"
#include "support/HexText.h"
#include "support/InputFile.h"
#include "support/NumberText.h"

namespace hph {
namespace {

using scenario_toml::TableReader;

// A scenario's name becomes file names under --trace-dir: one plain path component.
bool isPlainName(std::string_view name) {
  if (name.empty() || name.size() > 128 || name == "." || name == "..") return false;
  for (unsigned char c : name)
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

}  // namespace

std::string_view strategyName(StrategyKind kind) {
  switch (kind) {
  case StrategyKind::kRandom: return "random";
  case StrategyKind::kPct: return "pct";
  case StrategyKind::kExhaustive: return "exhaustive";
  }
  return "?";
}

std::string_view pointsModeName(PointsMode mode) {
  switch (mode) {
  case PointsMode::kAll: return "all";
  case PointsMode::kWatched: return "watched";
  case PointsMode::kVisible: return "visible";
  }
  return "?";
}

std::optional<PointsMode> parsePointsMode(std::string_view text) {
  if (text == "all") return PointsMode::kAll;
  if (text == "watched") return PointsMode::kWatched;
  if (text == "visible") return PointsMode::kVisible;
  return std::nullopt;
}

std::optional<StrategyKind> parseStrategy(std::string_view text) {
  if (text == "random") return StrategyKind::kRandom;
  if (text == "pct") return StrategyKind::kPct;
  if (text == "exhaustive") return StrategyKind::kExhaustive;
  return std::nullopt;
}

std::string_view reductionName(Reduction reduction) {
  switch (reduction) {
  case Reduction::kNone: return "none";
  case Reduction::kSleepSets: return "sleep-sets";
  case Reduction::kDpor: return "dpor";
  }
  return "?";
}

std::optional<Reduction> parseReduction(std::string_view text) {
  for (Reduction r : {Reduction::kNone, Reduction::kSleepSets, Reduction::kDpor})
    if (reductionName(r) == text) return r;
  return std::nullopt;
}

Result<Scenario> loadScenario(const std::string& path) {
  namespace L = limits;
  auto parsed = scenario_toml::parseTomlFile(path, L::kMaxScenarioBytes);
  if (!parsed) return parsed.error();
  const toml::table& root = *parsed;
  const std::string shownPath = echoText(path, 200);
  Scenario s;
  s.path = path;
  s.directory = std::filesystem::path(path).parent_path().string();
  auto resolve = [&](const std::string& p) {
    return std::filesystem::path(p).is_absolute()
               ? p
               : (std::filesystem::path(s.directory) / p).lexically_normal().string();
  };

  TableReader top(path, &root, "");
  HPH_TRY_ASSIGN(s.name, top.string("name"));
  std::string arch;
  HPH_TRY_ASSIGN(arch, top.string("arch"));
  HPH_TRY_ASSIGN(s.base, top.string("base"));
  if (const toml::node* patch = root.get("patch"); patch && patch->is_string()) {
    std::optional<std::string> one;
    HPH_TRY_ASSIGN(one, top.string("patch"));
    s.patches.push_back(*one);
  } else if (patch && !patch->is_array()) {
    return top.typeError("patch", "a patch image path or an array of them (a cumulative series)", *patch);
  } else {
    auto list = top.strings("patch");
    if (!list) return list.error();
    s.patches = *list;
  }
  if (root.get("patch") && s.patches.empty()) return top.error("patch", "an empty series");
  if (const toml::node* address = top.node("patch_address")) {
    // A string, because TOML integers are signed 64-bit: "0x7ff600000000".
    auto text = address->value<std::string>();
    const auto value = text && address->is_string()
                           ? parseUnsigned(*text, {.digits = IntegerDigits::kHex, .upperCasePrefix = false})
                           : std::nullopt;
    if (!value || *value % 0x10000 || *value == 0)
      return top.error("patch_address",
                       "expected a nonzero hex address string aligned to 64 KiB, like \"0x7ff600000000\"");
    s.patchAddress = *value;
  }
  const toml::table *threadsTable, *checkTable, *exploreTable, *protocolTable, *arm64Table, *onHostTable, *chpeTable;
  HPH_TRY_TABLE(threadsTable, top.table("threads"));
  HPH_TRY_TABLE(checkTable, top.table("check"));
  HPH_TRY_TABLE(exploreTable, top.table("explore"));
  HPH_TRY_TABLE(protocolTable, top.table("protocol"));
  HPH_TRY_TABLE(arm64Table, top.table("arm64"));
  HPH_TRY_TABLE(onHostTable, top.table("onhost"));
  HPH_TRY_TABLE(chpeTable, top.table("chpe"));
  std::vector<const toml::table*> hostWriteTables, functionTables;
  HPH_TRY_TABLE(hostWriteTables, top.tables("host_write"));
  HPH_TRY_TABLE(functionTables, top.tables("functions"));
  if (auto r = top.rejectUnknown(); !r) return r.error();
  if (s.name.empty()) s.name = std::filesystem::path(path).stem().string();
  if (!isPlainName(s.name))
    return top.error("name", fmt::format("'{}' is not a plain name (1..128 of A-Z a-z 0-9 . _ -, not . or ..): it "
                                         "names files under --trace-dir",
                                         echoText(s.name, L::kMaxEchoedChars)));
  s.hybrid = arch == "arm64ec";
  const Arch* named = s.hybrid ? &archOf(ArchKind::kX64) : archByName(arch);
  if (!named)
    return top.error(
        "arch", arch.empty() ? "missing (x64 | arm64 | arm64ec)"
                             : fmt::format("'{}' is not x64, arm64 or arm64ec", echoText(arch, L::kMaxEchoedChars)));
  s.arch = named->kind();
  if (s.base.empty()) return top.error("base", "missing: the image the threads run");
  s.base = resolve(s.base);
  for (std::string& patch : s.patches) patch = resolve(patch);

  TableReader threads(path, threadsTable, "[threads].");
  HPH_TRY_ASSIGN(s.threadCount, threads.integer("count", L::kMinThreads, L::kMaxThreads));
  HPH_TRY_ASSIGN(s.threadEntry, threads.string("entry"));
  HPH_TRY_ASSIGN(s.stackBytes, threads.integer("stack_size", L::kMinStackBytes, L::kMaxStackBytes));
  HPH_TRY_ASSIGN(s.threadBudget, threads.integer("budget", L::kMinBudget, L::kMaxBudget));
  if (auto r = threads.rejectUnknown(); !r) return r.error();
  if (s.hybrid && threadsTable)
    return top.error("[threads]", "guest threads on both engines of a hybrid process are not built yet: a hybrid "
                                  "scenario (arch = \"arm64ec\") is checked by one serial run (H1-H4, docs/design.md)");
  if (s.threadEntry.empty() && !s.hybrid) return threads.error("entry", "missing: the export each thread runs");
  // Each alone in range, together perhaps not: every job maps all stacks and snapshots them.
  if (const uint64_t total = uint64_t{s.threadCount} * ((s.stackBytes + 0xFFF) & ~uint64_t{0xFFF});
      total > L::kMaxTotalStackBytes)
    return badInput(fmt::format("{}: [threads].count x [threads].stack_size: {} x {} bytes = {} MiB of stacks is more "
                                "than the limit of {} MiB",
                                shownPath, s.threadCount, s.stackBytes, total >> 20, L::kMaxTotalStackBytes >> 20));

  TableReader check(path, checkTable, "[check].");
  std::optional<std::string> invariant;
  HPH_TRY_ASSIGN(invariant, check.string("invariant"));
  s.invariant = invariant;
  std::string expect;
  HPH_TRY_ASSIGN(expect, check.string("expect"));
  HPH_TRY_ASSIGN(s.staticChecks, check.boolean("static_checks"));
  {
    auto ignore = check.strings("ignore");
    if (!ignore) return ignore.error();
    for (const std::string& p : *ignore) {
      const std::optional<Property> property = parseProperty(p);
      if (!property || !isDesignProperty(*property))
        return check.error("ignore", fmt::format("'{}' is not a property (C1..C8, X1..X3, A1..A4, H1..H4)",
                                                 echoText(p, L::kMaxEchoedChars)));
      s.ignore.push_back(*property);
    }
  }
  if (auto r = check.rejectUnknown(); !r) return r.error();

  TableReader arm64(path, arm64Table, "[arm64].");
  HPH_TRY_ASSIGN(s.arm64.idc, arm64.boolean("idc"));
  HPH_TRY_ASSIGN(s.arm64.dic, arm64.boolean("dic"));
  HPH_TRY_ASSIGN(s.arm64.fetchCoherent, arm64.boolean("fetch_coherent"));
  HPH_TRY_ASSIGN(s.arm64.model, arm64.boolean("fetch_model"));
  if (auto r = arm64.rejectUnknown(); !r) return r.error();

  TableReader chpe(path, chpeTable, "[chpe].");
  HPH_TRY_ASSIGN(s.chpeRestriction, chpe.boolean("restriction"));
  std::string staleEngine;
  HPH_TRY_ASSIGN(staleEngine, chpe.string("stale_engine"));
  if (const toml::node* args = chpe.node("call_args")) {
    const toml::array* list = args->as_array();
    if (!list || list->size() > 4)
      return chpe.typeError("call_args", "an array of up to 4 non-negative integers", *args);
    s.chpeCallArgs.clear();
    for (const toml::node& a : *list) {
      const auto value = a.value<int64_t>();
      if (!a.is_integer() || !value) return chpe.typeError("call_args", "an array of up to 4 non-negative integers", a);
      if (*value < 0)
        return chpe.error("call_args", fmt::format("{} is negative (the arguments are unsigned)", *value));
      s.chpeCallArgs.push_back(static_cast<uint64_t>(*value));
    }
  }
  if (auto r = chpe.rejectUnknown(); !r) return r.error();
  if (!staleEngine.empty()) {
    if (staleEngine != "x64" && staleEngine != "arm64")
      return chpe.error("stale_engine",
                        fmt::format("'{}' is not x64 or arm64", echoText(staleEngine, L::kMaxEchoedChars)));
    s.staleEngine = staleEngine == "x64" ? hybrid::StaleEngine::kX64 : hybrid::StaleEngine::kArm64;
  }
  if ((!staleEngine.empty() || chpe.node("call_args")) && !s.hybrid)
    return chpe.error(staleEngine.empty() ? "call_args" : "stale_engine", "only for arch = \"arm64ec\"");

  TableReader onHost(path, onHostTable, "[onhost].");
  HPH_TRY_ASSIGN(s.onHostCalls, onHost.string("calls"));
  HPH_TRY_ASSIGN(s.onHostNewCalls, onHost.string("new_calls"));
  if (s.onHostCalls.has_value() != s.onHostNewCalls.has_value())
    return badInput(fmt::format("{}: [onhost].{}: calls and new_calls go together", shownPath,
                                s.onHostCalls ? "new_calls" : "calls"));
  if (auto r = onHost.rejectUnknown(); !r) return r.error();
  if (arm64Table && s.arch != ArchKind::kArm64 && !s.hybrid)
    return top.error("[arm64]", "only for arch = \"arm64\" (or arm64ec with site = \"native\")");
  if (!expect.empty()) {
    const auto parsed = parseExpectedVerdict(expect);
    if (!parsed)
      return check.error("expect", fmt::format("'{}' is not holds, refused, vacuous or violation:<property>",
                                               echoText(expect, L::kMaxEchoedChars)));
    s.expect = *parsed;
  }

  TableReader explore(path, exploreTable, "[explore].");
  ExploreSettings& e = s.explore;
  std::string strategy, points, reduction;
  HPH_TRY_ASSIGN(strategy, explore.string("strategy"));
  {
    auto schedules = explore.integer("schedules", L::kMinSchedules, L::kMaxSchedules);
    if (!schedules) return schedules.error();
    e.schedules = *schedules;
  }
  HPH_TRY_ASSIGN(e.preemptionBound, explore.integer("preemption_bound", 0, L::kMaxPreemptionBound));
  HPH_TRY_ASSIGN(e.seed, explore.integer("seed", 0, L::kTomlMax));
  HPH_TRY_ASSIGN(points, explore.string("points"));
  auto watch = explore.strings("watch");
  if (!watch) return watch.error();
  e.watch = *watch;
  HPH_TRY_ASSIGN(e.depth, explore.integer("depth", L::kMinDepth, L::kMaxDepth));
  HPH_TRY_ASSIGN(e.jobs, explore.integer("jobs", 0, L::kMaxJobs));
  HPH_TRY_ASSIGN(e.maxTime, explore.number("max_time", 0, L::kMaxTimeSeconds));
  HPH_TRY_ASSIGN(e.window, explore.integer("window", 0, L::kMaxWindow));
  HPH_TRY_ASSIGN(reduction, explore.string("reduction"));
  HPH_TRY_ASSIGN(e.switchProbability, explore.number("switch_probability", 0, 1));
  HPH_TRY_ASSIGN(e.checkpoints, explore.boolean("checkpoints"));
  HPH_TRY_ASSIGN(e.atomicAddsCommute, explore.boolean("atomic_adds_commute"));
  if (auto r = explore.rejectUnknown(); !r) return r.error();
  if (!strategy.empty()) {
    auto kind = parseStrategy(strategy);
    if (!kind)
      return explore.error(
          "strategy", fmt::format("'{}' is not random, pct or exhaustive", echoText(strategy, L::kMaxEchoedChars)));
    e.strategy = *kind;
  }
  if (!points.empty()) {
    const auto parsed = parsePointsMode(points);
    if (!parsed)
      return explore.error("points",
                           fmt::format("'{}' is not all, watched or visible", echoText(points, L::kMaxEchoedChars)));
    e.points = *parsed;
  }
  if (!reduction.empty()) {
    const auto parsed = parseReduction(reduction);
    if (!parsed)
      return explore.error(
          "reduction", fmt::format("'{}' is not none, sleep-sets or dpor", echoText(reduction, L::kMaxEchoedChars)));
    e.reduction = *parsed;
  }

  for (size_t i = 0; i < hostWriteTables.size(); ++i) {
    TableReader w(path, hostWriteTables[i], fmt::format("[[host_write]][{}].", i));
    HostWrite write;
    std::string bytes;
    HPH_TRY_ASSIGN(write.target, w.string("target"));
    HPH_TRY_ASSIGN(bytes, w.string("bytes"));
    if (auto r = w.rejectUnknown(); !r) return r.error();
    if (write.target.empty()) return w.error("target", "missing (function, function+offset or rva:0x...)");
    // "48 89 c8", "48:89:c8", "4889_c8": the separators a byte dump may carry.
    auto parsed = parseHexBytes(bytes, {.ignored = " :_"});
    if (!parsed)
      return w.error("bytes", fmt::format("'{}' is not a hex byte string", echoText(bytes, L::kMaxEchoedChars)));
    if (parsed->size() > L::kMaxHostWriteBytes)
      return w.error("bytes", fmt::format("{} bytes is not in 1..{}", parsed->size(), L::kMaxHostWriteBytes));
    write.bytes = *parsed;
    s.hostWrites.push_back(std::move(write));
  }
  for (size_t i = 0; i < functionTables.size(); ++i) {
    TableReader f(path, functionTables[i], fmt::format("[[functions]][{}].", i));
    FunctionMap map;
    HPH_TRY_ASSIGN(map.target, f.string("target"));
    HPH_TRY_ASSIGN(map.replacement, f.string("replacement"));
    HPH_TRY_ASSIGN(map.pure, f.boolean("pure"));
    {
      auto callers = f.strings("callers");
      if (!callers) return callers.error();
      map.callers = *callers;
    }
    if (auto r = f.rejectUnknown(); !r) return r.error();
    if (!map.callers.empty() && !s.hybrid) return f.error("callers", "only for arch = \"arm64ec\" (H1)");
    if (map.pure && s.hybrid) return f.error("pure", "C5 needs threads, which a hybrid scenario has none of");
    if (map.target.empty()) return f.error("target", "missing (export name or rva:0x...)");
    if (map.replacement.empty()) return f.error("replacement", "missing (export name or rva:0x...)");
    s.functions.push_back(std::move(map));
  }
  TableReader protocol(path, protocolTable, "[protocol].");
  std::string protocolName, defect, site;
  HPH_TRY_ASSIGN(protocolName, protocol.string("name"));
  HPH_TRY_ASSIGN(s.reverse, protocol.boolean("reverse"));
  HPH_TRY_ASSIGN(defect, protocol.string("defect"));
  HPH_TRY_ASSIGN(site, protocol.string("site"));
  if (auto r = protocol.rejectUnknown(); !r) return r.error();
  if (!site.empty()) {
    if (!s.hybrid) return protocol.error("site", "only for arch = \"arm64ec\" (a hybrid image's two entries)");
    const auto parsed = parseHybridSite(site);
    if (!parsed)
      return protocol.error("site", fmt::format("'{}' is not native or x64-entry", echoText(site, L::kMaxEchoedChars)));
    s.hybridSite = *parsed;
  }
  if (s.hybrid) {
    // The site's code decides the protocols; with static checks off, one of the other
    // instruction set may be written there too (what H3 and H2 are for).
    s.arch = siteArch(s.hybridSite);
    const ArchKind other = s.arch == ArchKind::kX64 ? ArchKind::kArm64 : ArchKind::kX64;
    if (!s.staticChecks && !protocolName.empty() && !parseProtocol(protocolName, s.arch) &&
        parseProtocol(protocolName, other))
      s.arch = other;
    if (!s.hostWrites.empty()) return top.error("host_write", "a hybrid scenario patches through a patch image");
    if (s.invariant)
      return check.error("invariant", "an invariant checks what threads did; a hybrid scenario has none");
    if (exploreTable) return top.error("[explore]", "a hybrid scenario is one serial run: there is nothing to explore");
    if (onHostTable) return top.error("[onhost]", "hph onhost runs no hybrid process");
    if (s.patches.empty()) return top.error("patch", "missing: a hybrid scenario checks a patch");
    if (s.functions.empty())
      return top.error("functions", "missing: a hybrid scenario maps its functions to their replacements");
    if (arm64Table && s.arch != ArchKind::kArm64)
      return top.error("[arm64]", "only for a plan of Arm64 code (site = \"native\", or an Arm64 protocol)");
    // Only H1-H4 are decided by the serial run: the others need threads.
    const auto notHybrid = [](Property p) {
      return isDesignProperty(p) && propertyInfo(p).scope != PropertyScope::kHybrid;
    };
    for (const Property p : s.ignore)
      if (notHybrid(p))
        return check.error("ignore",
                           fmt::format("{} is not checked for arch = \"arm64ec\" (H1..H4 are)", propertyId(p)));
    if (s.expect.kind == VerdictKind::kViolation)
      if (const auto p = parseProperty(s.expect.property); !p || notHybrid(*p) || !isDesignProperty(*p))
        return check.error(
            "expect", fmt::format("violation:{} cannot occur for arch = \"arm64ec\" (H1..H4 can)", s.expect.property));
    // A refusal (a protocol whose precondition fails at the site) can be expected.
    if (s.expect.kind == VerdictKind::kVacuous)
      return check.error("expect", fmt::format("{} cannot occur for arch = \"arm64ec\"", verdictText(s.expect)));
  } else {
    for (const Property p : s.ignore)
      if (propertyInfo(p).scope == PropertyScope::kHybrid)
        return check.error("ignore", fmt::format("{} is checked for arch = \"arm64ec\" only", propertyId(p)));
    if (s.expect.kind == VerdictKind::kViolation)
      if (const auto p = parseProperty(s.expect.property); p && propertyInfo(*p).scope == PropertyScope::kHybrid)
        return check.error("expect",
                           fmt::format("violation:{} is checked for arch = \"arm64ec\" only", s.expect.property));
  }
  // Whether the patch image carries its own table is checked with the images (Session).
  if (!s.patches.empty() && !s.hostWrites.empty())
    return top.error("patch", "a scenario has a patch or [[host_write]] stores, not both");
  if (s.patches.empty() && !s.functions.empty()) return top.error("patch", "missing: [[functions]] need a patch image");
  if (s.patches.size() > 1 && !s.functions.empty())
    return top.error("functions",
                     "a cumulative series of patches is described by the images' own tables, not [[functions]]");
  if (s.patches.empty() && s.patchAddress) return top.error("patch_address", "there is no patch image");
  if (!s.patches.empty() && protocolName.empty()) return top.error("[protocol].name", "missing");
  // The names are the registry's (patch/ProtocolRegistry.h); from here on, enums.
  if (!protocolName.empty()) {
    s.protocol = parseProtocol(protocolName, s.arch);
    if (!s.protocol)
      return badInput(fmt::format("{}: [protocol]: {}", shownPath,
                                  notAProtocolOf(echoText(protocolName, L::kMaxEchoedChars), s.arch)));
  }
  if (!defect.empty()) {
    if (!s.protocol) return protocol.error("defect", "a defect of no protocol: [protocol].name is missing");
    const auto parsed = parseDefect(defect, *s.protocol);
    if (!parsed)
      return badInput(fmt::format("{}: [protocol]: {}", shownPath,
                                  notADefectOf(echoText(defect, L::kMaxEchoedChars), *s.protocol)));
    s.defect = *parsed;
  }
  return s;
}

}  // namespace hph
