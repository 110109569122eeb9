#include "harness/scenario/Scenario.h"

#include <fmt/format.h>

#include <charconv>
#include <filesystem>
#include <set>
#include <toml++/toml.h>

namespace hph {
namespace {

constexpr uint32_t kMaxThreads = 256;

// Reads one table of a scenario, naming "<file>: [table].key" in every error and
// refusing keys it does not know (a typo must not silently change what is checked).
class TableReader {
 public:
  TableReader(const std::string& file, const toml::table* table, std::string prefix)
      : file_(file), table_(table), prefix_(std::move(prefix)) {}

  std::string field(std::string_view key) const { return fmt::format("{}{}", prefix_, key); }
  Error error(std::string_view key, const std::string& problem) const {
    return badInput(fmt::format("{}: {}: {}", file_, field(key), problem));
  }

  template <class T>
  Result<std::optional<T>> get(std::string_view key) {
    known_.insert(std::string(key));
    if (!table_) return std::optional<T>{};
    const toml::node* node = table_->get(key);
    if (!node) return std::optional<T>{};
    if constexpr (std::is_same_v<T, bool>) {
      // Strictly a boolean: toml++ would read 1 as true.
      if (node->is_boolean()) return std::optional<T>(node->as_boolean()->get());
      return error(key, "expected true or false");
    } else if constexpr (std::is_same_v<T, double>) {
      if (auto v = node->value<double>()) return std::optional<T>(*v);
      return error(key, "expected a number");
    } else if constexpr (std::is_integral_v<T>) {
      auto v = node->value<int64_t>();
      if (!v) return error(key, "expected an integer");
      if (*v < 0) return error(key, fmt::format("{} is negative", *v));
      return std::optional<T>(static_cast<T>(*v));
    } else {
      auto v = node->value<std::string>();
      if (!v) return error(key, "expected a string");
      return std::optional<T>(*v);
    }
  }

  Result<std::vector<std::string>> strings(std::string_view key) {
    known_.insert(std::string(key));
    std::vector<std::string> out;
    if (!table_ || !table_->get(key)) return out;
    const toml::array* array = table_->get(key)->as_array();
    if (!array) return error(key, "expected an array of strings");
    for (const toml::node& item : *array) {
      auto v = item.value<std::string>();
      if (!v) return error(key, "expected an array of strings");
      out.push_back(*v);
    }
    return out;
  }

  void allow(std::string_view key) { known_.insert(std::string(key)); }

  Result<void> rejectUnknown() const {
    if (!table_) return {};
    for (const auto& [key, value] : *table_)
      if (!known_.count(std::string(key.str())))
        return badInput(fmt::format("{}: {}: unknown key", file_, field(key.str())));
    return {};
  }

 private:
  const std::string& file_;
  const toml::table* table_;
  std::string prefix_;
  std::set<std::string> known_;
};

#define HPH_TRY_ASSIGN(target, expr)        \
  do {                                      \
    auto _r = (expr);                       \
    if (!_r) return _r.error();             \
    if (_r.value()) target = *_r.value();   \
  } while (0)

std::optional<std::vector<uint8_t>> parseHex(std::string_view text) {
  std::vector<uint8_t> out;
  int high = -1;
  for (char c : text) {
    if (c == ' ' || c == ':' || c == '_') continue;
    int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
            : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
            : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                        : -1;
    if (v < 0) return std::nullopt;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<uint8_t>(high << 4 | v));
      high = -1;
    }
  }
  if (high >= 0 || out.empty()) return std::nullopt;
  return out;
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

std::optional<StrategyKind> parseStrategy(std::string_view text) {
  if (text == "random") return StrategyKind::kRandom;
  if (text == "pct") return StrategyKind::kPct;
  if (text == "exhaustive") return StrategyKind::kExhaustive;
  return std::nullopt;
}

Result<Scenario> loadScenario(const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return badInput(fmt::format("{}:{}:{}: {}", path, where.line, where.column, e.description()));
  }
  Scenario s;
  s.path = path;
  s.directory = std::filesystem::path(path).parent_path().string();
  auto resolve = [&](const std::string& p) {
    return std::filesystem::path(p).is_absolute() ? p : (std::filesystem::path(s.directory) / p).lexically_normal().string();
  };

  TableReader top(path, &root, "");
  HPH_TRY_ASSIGN(s.name, top.get<std::string>("name"));
  HPH_TRY_ASSIGN(s.arch, top.get<std::string>("arch"));
  HPH_TRY_ASSIGN(s.base, top.get<std::string>("base"));
  if (const toml::node* patch = root.get("patch"); patch && patch->is_string()) {
    s.patches.push_back(*patch->value<std::string>());
    top.allow("patch");
  } else {
    auto list = top.strings("patch");
    if (!list) return top.error("patch", "expected a patch image path or an array of them (a cumulative series)");
    s.patches = *list;
  }
  if (root.get("patch") && s.patches.empty()) return top.error("patch", "an empty series");
  if (const toml::node* address = root.get("patch_address")) {
    // A string, because TOML integers are signed 64-bit: "0x7ff600000000".
    auto text = address->value<std::string>();
    uint64_t value = 0;
    std::string_view digits = text ? std::string_view(*text) : std::string_view();
    if (digits.starts_with("0x")) digits.remove_prefix(2);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, 16);
    if (!text || digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || value % 0x10000)
      return top.error("patch_address", "expected a hex address string aligned to 64 KiB, like \"0x7ff600000000\"");
    s.patchAddress = value;
  }
  top.allow("patch_address");
  for (const char* table : {"threads", "check", "explore", "host_write", "functions", "protocol", "arm64"})
    top.allow(table);
  if (auto r = top.rejectUnknown(); !r) return r.error();
  if (s.name.empty()) s.name = std::filesystem::path(path).stem().string();
  if (s.arch != "x64" && s.arch != "arm64")
    return top.error("arch", s.arch.empty() ? "missing (x64 | arm64)" : fmt::format("'{}' is not x64 or arm64", s.arch));
  if (s.base.empty()) return top.error("base", "missing: the image the threads run");
  s.base = resolve(s.base);
  for (std::string& patch : s.patches) patch = resolve(patch);

  TableReader threads(path, root["threads"].as_table(), "[threads].");
  HPH_TRY_ASSIGN(s.threadCount, threads.get<uint32_t>("count"));
  HPH_TRY_ASSIGN(s.threadEntry, threads.get<std::string>("entry"));
  HPH_TRY_ASSIGN(s.stackBytes, threads.get<uint64_t>("stack_size"));
  HPH_TRY_ASSIGN(s.threadBudget, threads.get<uint64_t>("budget"));
  if (auto r = threads.rejectUnknown(); !r) return r.error();
  if (s.threadCount == 0 || s.threadCount > kMaxThreads)
    return threads.error("count", fmt::format("{} is not in 1..{}", s.threadCount, kMaxThreads));
  if (s.threadEntry.empty()) return threads.error("entry", "missing: the export each thread runs");
  if (s.stackBytes < 4096 || s.stackBytes > (64u << 20))
    return threads.error("stack_size", "must be 4 KiB .. 64 MiB");
  if (s.threadBudget == 0) return threads.error("budget", "must be positive");

  TableReader check(path, root["check"].as_table(), "[check].");
  std::optional<std::string> invariant;
  HPH_TRY_ASSIGN(invariant, check.get<std::string>("invariant"));
  s.invariant = invariant;
  HPH_TRY_ASSIGN(s.expect, check.get<std::string>("expect"));
  HPH_TRY_ASSIGN(s.staticChecks, check.get<bool>("static_checks"));
  {
    auto ignore = check.strings("ignore");
    if (!ignore) return ignore.error();
    static const std::set<std::string> kProperties = {"C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8",
                                                      "X1", "X2", "X3", "A1", "A2", "A3", "A4"};
    for (const std::string& p : *ignore)
      if (!kProperties.count(p)) return check.error("ignore", fmt::format("'{}' is not a property (C1..C8, X1..X3, A1..A4)", p));
    s.ignore = *ignore;
  }
  if (auto r = check.rejectUnknown(); !r) return r.error();

  TableReader arm64(path, root["arm64"].as_table(), "[arm64].");
  HPH_TRY_ASSIGN(s.arm64.idc, arm64.get<bool>("idc"));
  HPH_TRY_ASSIGN(s.arm64.dic, arm64.get<bool>("dic"));
  HPH_TRY_ASSIGN(s.arm64.fetchCoherent, arm64.get<bool>("fetch_coherent"));
  HPH_TRY_ASSIGN(s.arm64.model, arm64.get<bool>("fetch_model"));
  if (auto r = arm64.rejectUnknown(); !r) return r.error();
  if (root["arm64"] && s.arch != "arm64") return arm64.error("", "only for arch = \"arm64\"");
  if (s.expect != "holds" && s.expect != "refused" && s.expect != "vacuous" &&
      !(s.expect.starts_with("violation:") && s.expect.size() > 10))
    return check.error("expect", fmt::format("'{}' is not holds, refused, vacuous or violation:<property>", s.expect));

  TableReader explore(path, root["explore"].as_table(), "[explore].");
  ExploreSettings& e = s.explore;
  std::string strategy, points, reduction;
  HPH_TRY_ASSIGN(strategy, explore.get<std::string>("strategy"));
  {
    auto schedules = explore.get<uint64_t>("schedules");
    if (!schedules) return schedules.error();
    e.schedules = *schedules;
  }
  HPH_TRY_ASSIGN(e.preemptionBound, explore.get<uint32_t>("preemption_bound"));
  HPH_TRY_ASSIGN(e.seed, explore.get<uint64_t>("seed"));
  HPH_TRY_ASSIGN(points, explore.get<std::string>("points"));
  auto watch = explore.strings("watch");
  if (!watch) return watch.error();
  e.watch = *watch;
  HPH_TRY_ASSIGN(e.depth, explore.get<uint32_t>("depth"));
  HPH_TRY_ASSIGN(e.jobs, explore.get<uint32_t>("jobs"));
  HPH_TRY_ASSIGN(e.maxTime, explore.get<double>("max_time"));
  HPH_TRY_ASSIGN(e.window, explore.get<uint32_t>("window"));
  HPH_TRY_ASSIGN(reduction, explore.get<std::string>("reduction"));
  HPH_TRY_ASSIGN(e.switchProbability, explore.get<double>("switch_probability"));
  if (auto r = explore.rejectUnknown(); !r) return r.error();
  if (!strategy.empty()) {
    auto kind = parseStrategy(strategy);
    if (!kind) return explore.error("strategy", fmt::format("'{}' is not random, pct or exhaustive", strategy));
    e.strategy = *kind;
  }
  if (!points.empty()) {
    if (points != "all" && points != "watched")
      return explore.error("points", fmt::format("'{}' is not all or watched", points));
    e.points = points == "all" ? PointsMode::kAll : PointsMode::kWatched;
  }
  if (!reduction.empty()) {
    if (reduction != "none" && reduction != "sleep-sets")
      return explore.error("reduction", fmt::format("'{}' is not none or sleep-sets", reduction));
    e.reduction = reduction == "none" ? Reduction::kNone : Reduction::kSleepSets;
  }
  if (e.schedules && *e.schedules == 0) return explore.error("schedules", "must be positive");
  if (e.depth == 0) return explore.error("depth", "must be at least 1");
  if (e.maxTime < 0) return explore.error("max_time", "must not be negative");
  if (e.switchProbability < 0 || e.switchProbability > 1)
    return explore.error("switch_probability", "must be in [0, 1]");

  if (const toml::node* writes = root.get("host_write")) {
    const toml::array* array = writes->as_array();
    if (!array) return top.error("host_write", "expected [[host_write]] tables");
    for (size_t i = 0; i < array->size(); ++i) {
      TableReader w(path, (*array)[i].as_table(), fmt::format("[[host_write]][{}].", i));
      HostWrite write;
      std::string bytes;
      HPH_TRY_ASSIGN(write.target, w.get<std::string>("target"));
      HPH_TRY_ASSIGN(bytes, w.get<std::string>("bytes"));
      if (auto r = w.rejectUnknown(); !r) return r.error();
      if (write.target.empty()) return w.error("target", "missing (function, function+offset or rva:0x...)");
      auto parsed = parseHex(bytes);
      if (!parsed) return w.error("bytes", fmt::format("'{}' is not a hex byte string", bytes));
      write.bytes = *parsed;
      s.hostWrites.push_back(std::move(write));
    }
  }
  if (const toml::node* functions = root.get("functions")) {
    const toml::array* array = functions->as_array();
    if (!array) return top.error("functions", "expected [[functions]] tables");
    for (size_t i = 0; i < array->size(); ++i) {
      TableReader f(path, (*array)[i].as_table(), fmt::format("[[functions]][{}].", i));
      FunctionMap map;
      HPH_TRY_ASSIGN(map.target, f.get<std::string>("target"));
      HPH_TRY_ASSIGN(map.replacement, f.get<std::string>("replacement"));
      HPH_TRY_ASSIGN(map.pure, f.get<bool>("pure"));
      if (auto r = f.rejectUnknown(); !r) return r.error();
      if (map.target.empty()) return f.error("target", "missing (export name or rva:0x...)");
      if (map.replacement.empty()) return f.error("replacement", "missing (export name or rva:0x...)");
      s.functions.push_back(std::move(map));
    }
  }
  TableReader protocol(path, root["protocol"].as_table(), "[protocol].");
  HPH_TRY_ASSIGN(s.protocol, protocol.get<std::string>("name"));
  HPH_TRY_ASSIGN(s.reverse, protocol.get<bool>("reverse"));
  HPH_TRY_ASSIGN(s.defect, protocol.get<std::string>("defect"));
  if (auto r = protocol.rejectUnknown(); !r) return r.error();
  // Whether the patch image carries its own table is checked with the images (Session).
  if (!s.patches.empty() && !s.hostWrites.empty())
    return top.error("patch", "a scenario has a patch or [[host_write]] stores, not both");
  if (s.patches.empty() && !s.functions.empty()) return top.error("patch", "missing: [[functions]] need a patch image");
  if (s.patches.size() > 1 && !s.functions.empty())
    return top.error("functions", "a cumulative series of patches is described by the images' own tables, not [[functions]]");
  if (s.patches.empty() && s.patchAddress) return top.error("patch_address", "there is no patch image");
  if (!s.patches.empty() && s.protocol.empty()) return top.error("[protocol].name", "missing");
  return s;
}

}  // namespace hph
