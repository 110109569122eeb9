// hph: is it safe to apply this hotpatch to running processes?
// The command-line front end; each subcommand lives in its own *Command.cpp.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <exception>

#include "harness/CallCommand.h"
#include "harness/CheckCommand.h"
#include "harness/CliRanges.h"
#include "harness/GateCommand.h"
#include "harness/InspectCommand.h"
#include "harness/MergeCommand.h"
#include "harness/OnHostCommand.h"
#include "harness/PlanCommand.h"
#include "harness/ReplayCommand.h"
#include "harness/TrampolineCommand.h"
#include "harness/scenario/Limits.h"
#include "patch/ProtocolRegistry.h"
#include "support/Status.h"

namespace {

// "x64 naive-jmp5 (default) | padding-short-jmp | ...; arm64 b-direct (default) | ...",
// from the registry.
std::string redirectHelp() {
  using namespace hph;
  std::string out = "the redirect:";
  for (const ArchKind arch : {ArchKind::kX64, ArchKind::kArm64}) {
    std::string names;
    for (const ProtocolKind p : protocolsFor(arch))
      names += fmt::format("{}{}{}", names.empty() ? "" : " | ", protocolName(p),
                           p == defaultRedirectProtocol(arch) ? " (default)" : "");
    out += fmt::format("{} {} {}", arch == ArchKind::kX64 ? "" : ";", archOf(arch).name(), names);
  }
  return out;
}

// Every protocol with its architectures and what it does, from the registry.
std::string protocolsFooter() {
  using namespace hph;
  std::string out = "Protocols ([protocol] name):";
  for (const ProtocolInfo& p : protocolRegistry()) {
    std::string arches;
    for (const ArchKind a : p.arches) arches += fmt::format("{}{}", arches.empty() ? "" : ", ", archOf(a).name());
    out += fmt::format("\n  {:<18} {:<11} {}", p.name, arches, p.summary);
  }
  return out;
}

// --view native|arm64ec: which view of an ARM64X image (emu/pe/Arm64xRelocations).
void addViewOption(CLI::App& command, hph::ImageView& view) {
  command
      .add_option_function<std::string>(
          "--view",
          [&view](const std::string& name) {
            view = name == "arm64ec" ? hph::ImageView::kArm64ec : hph::ImageView::kNative;
          },
          "native (the file as it is, default) | arm64ec (an ARM64X image's Arm64EC view)")
      ->check(CLI::IsMember({"native", "arm64ec"}));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hph;
  CLI::App app{"hph: checks whether a hotpatch is safe to apply to running processes.\n"
               "Exit codes: 0 holds/success, 1 property violated or guest fault, 2 bad input, "
               "3 internal error."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("hph ") + HPH_VERSION_STRING);

  InspectOptions inspect;
  CLI::App* inspectCmd =
      app.add_subcommand("inspect", "Machine, sections, exports, functions and their hotpatchability, load config.");
  inspectCmd->add_option("IMAGE", inspect.image, "PE image (x64 or Arm64)")->required();
  inspectCmd->add_flag("--json", inspect.json, "machine-readable output");
  addViewOption(*inspectCmd, inspect.view);

  CallCommandOptions call;
  CLI::App* callCmd = app.add_subcommand("call", "Run one function under emulation and print its 64-bit result.");
  callCmd->add_option("IMAGE", call.image, "PE image (x64 or Arm64)")->required();
  callCmd->add_option("FUNCTION", call.function, "export name, .pdata name (sub_<rva>) or rva:0x...")->required();
  callCmd->add_option("ARG", call.arguments, "up to 8 integer arguments (decimal or 0x-hex)");
  callCmd->add_flag("--json", call.json, "machine-readable output; \"result\" is unsigned decimal");
  callCmd->add_option("--budget", call.budget, "instruction budget (stops runaway guests)")
      ->capture_default_str()
      ->transform(unsignedIn(limits::kMinCallBudget, limits::kMaxCallBudget));
  callCmd->add_option("--base", call.base, "load address (default: the preferred ImageBase)");
  addViewOption(*callCmd, call.view);

  CheckOptions check;
  CLI::App* checkCmd =
      app.add_subcommand("check", "Explore the schedules of scenarios (threads + patcher) and check their properties.");
  checkCmd->add_option("SCENARIO", check.scenarios, "scenario files (TOML)")->required();
  checkCmd->add_option("--strategy", check.strategy, "random | pct | exhaustive (default: the scenario's)");
  checkCmd->add_option("--schedules", check.schedules, "random/pct: schedules to run; exhaustive: a cap")
      ->transform(unsignedIn(limits::kMinSchedules, limits::kU64Max));
  checkCmd->add_option("--preemption-bound", check.preemptionBound, "exhaustive: at most K preemptions")
      ->transform(unsignedIn(0, limits::kMaxPreemptionBound));
  checkCmd->add_option("--seed", check.seed, "seed of random and pct schedules")
      ->transform(unsignedIn(0, limits::kMaxSeed));
  checkCmd->add_option("--depth", check.depth, "pct: bug depth d")
      ->transform(unsignedIn(limits::kMinDepth, limits::kMaxDepth));
  checkCmd->add_option("--shard", check.shard,
                       "I/N: explore only this shard's part (union = all); default: the CI engine's shard variables "
                       "(GTEST_*, TEST_* of Bazel, CI_NODE_* of GitLab, JOB_COMPLETION_INDEX)");
  checkCmd->add_option("--shard-count", check.shardCount,
                       "N: the shards of a Kubernetes Indexed Job (its pods see only JOB_COMPLETION_INDEX)");
  checkCmd->add_option("--jobs", check.jobs, "parallel workers (default and at most: the CPUs this process may use)")
      ->transform(unsignedIn(0, limits::kMaxJobs));
  checkCmd->add_option("--max-time", check.maxTime, "seconds; stop cleanly: the verdict is inconclusive (exit 4)")
      ->transform(secondsIn(limits::kMaxTimeSeconds));
  checkCmd
      ->add_option("--progress", check.progressEvery,
                   "seconds: print a progress line this often (a terminal shows one anyway)")
      ->transform(secondsIn(limits::kMaxTimeSeconds));
  checkCmd->add_flag("--accept-partial", check.acceptPartial,
                     "an inconclusive search (cut short by time, a cap or a signal) of a scenario expecting "
                     "holds passes (exit 0)");
  checkCmd->add_option("--json", check.jsonPath, "write the machine-readable result (schema hph-check/3)");
  checkCmd->add_option("--junit", check.junitPath, "write JUnit XML: a test case per scenario x property");
  checkCmd->add_option("--sarif", check.sarifPath, "write SARIF 2.1.0: a result per violation");
  checkCmd->add_option("--html", check.htmlPath,
                       "write one self-contained HTML page: verdicts, properties, counterexample timelines");
  checkCmd->add_option("--trace-dir", check.traceDir, "write counterexamples as Chrome traces + .replay files");

  MergeOptions merge;
  CLI::App* mergeCmd = app.add_subcommand(
      "merge",
      "Combine the shards of one hph check (their --json reports) or of one hph gate (their gate.json) into one "
      "verdict and every format.");
  mergeCmd
      ->add_option("REPORT", merge.reports,
                   "hph check --json reports or hph gate's gate.json, one per shard (any order)")
      ->required();
  mergeCmd->add_option("--out", merge.outDir, "gate.json shards: the directory for the merged gate's every report");
  mergeCmd->add_option("--json", merge.jsonPath, "write the merged report (schema hph-check/3)");
  mergeCmd->add_option("--junit", merge.junitPath, "write JUnit XML of the merged verdicts");
  mergeCmd->add_option("--sarif", merge.sarifPath, "write SARIF 2.1.0 of the merged verdicts");
  mergeCmd->add_option("--html", merge.htmlPath, "write a self-contained HTML report of the merged verdicts");

  ReplayOptions replay;
  CLI::App* replayCmd = app.add_subcommand("replay", "Re-run one schedule from its replay token.");
  replayCmd->add_option("TOKEN", replay.token, "a replay token (hph2.…) or a file holding one")->required();
  replayCmd->add_option("--scenario", replay.scenario,
                        "the token's scenario at another path (its content must be what the token was made from)");
  replayCmd->add_option("--trace", replay.tracePath, "write the schedule as a Chrome trace");
  replayCmd->add_flag("--json", replay.json, "machine-readable output");

  PlanOptions plan;
  CLI::App* planCmd = app.add_subcommand("plan", "The steps a scenario's patch applies, site by site.");
  planCmd->add_option("SCENARIO", plan.scenario, "scenario file (TOML)")->required();
  planCmd->add_flag("--json", plan.json, "machine-readable output");
  planCmd->footer(protocolsFooter());

  OnHostOptions onhost;
  CLI::App* onhostCmd = app.add_subcommand(
      "onhost", "Apply a verified scenario's plan to real threads of a native process (Arm64: under qemu-aarch64).");
  onhostCmd->add_option("SCENARIO", onhost.scenarios, "scenario files (TOML)")->required();
  onhostCmd->add_option("--patcher", onhost.patcher, "in-process (a thread of the target) or external (ptrace)")
      ->capture_default_str();
  onhostCmd->add_option("--threads", onhost.threads, "real threads calling the scenario's [threads] entry")
      ->capture_default_str();
  onhostCmd->add_option("--duration", onhost.duration, "seconds the threads call; the plan is applied half-way")
      ->capture_default_str();
  onhostCmd->add_flag("--unverified", onhost.unverified, "apply without exploring first (loudly)");
  onhostCmd->add_option("--verified", onhost.verifiedPath,
                        "an hph check --json report holding `holds` for these inputs: no exploring again");
  onhostCmd->add_flag("--reverse", onhost.reverse, "apply the reverse plan afterwards; the bytes must be restored");
  onhostCmd
      ->add_option("--applications", onhost.applications,
                   "measure: apply and unpatch this many times (implies --reverse); p50/p99 latency")
      ->capture_default_str();
  onhostCmd->add_flag("--force-boundaries", onhost.forceBoundaries,
                      "external patcher: a run per instruction boundary inside a live store, a thread parked on it");
  onhostCmd->add_option("--kill-after-step", onhost.killAfterStep,
                        "external patcher: SIGKILL it right after K steps (0: before the first)");
  onhostCmd->add_option("--kill-each-step", onhost.killEachStep,
                        "external patcher: for every K, TRIALS runs killing it right after K steps");
  onhostCmd->add_option("--json", onhost.jsonPath, "write the machine-readable result (schema hph-onhost/1)");
  onhostCmd->add_option("--junit", onhost.junitPath, "write JUnit XML: a test case per scenario");
  onhostCmd->add_option("--sarif", onhost.sarifPath, "write SARIF 2.1.0: a result per scenario that does not hold");
  onhostCmd->add_option("--job", onhost.jobPath, "also write the job the runner ran (run it again: hph-host JOB)");

  GateOptions gate;
  CLI::App* gateCmd = app.add_subcommand(
      "gate", "The release gate: run a release manifest's stages and say ship (exit 0) or do not ship (exit 1).");
  gateCmd->add_option("MANIFEST", gate.manifest, "release manifest (TOML, docs/gate.md)")->required();
  gateCmd->add_option("--out", gate.outDir, "directory for every report (JSON, JUnit, SARIF, HTML, traces, logs)")
      ->capture_default_str();
  gateCmd->add_option("--jobs", gate.jobs, "parallel exploration workers (default: the CPUs this process may use)")
      ->transform(unsignedIn(0, limits::kMaxJobs));
  gateCmd
      ->add_option("--progress", gate.progressEvery,
                   "seconds: the exploration prints a progress line this often (a terminal shows one anyway)")
      ->transform(secondsIn(limits::kMaxTimeSeconds));
  gateCmd->add_option("--shard", gate.shard,
                      "I/N: run this shard's part (hph merge of every shard's gate.json says ship); default: the CI "
                      "engine's shard variables (GTEST_*, TEST_* of Bazel, CI_NODE_* of GitLab, JOB_COMPLETION_INDEX)");
  gateCmd->add_option("--shard-count", gate.shardCount,
                      "N: the shards of a Kubernetes Indexed Job (its pods see only JOB_COMPLETION_INDEX)");

  TrampolineOptions trampoline;
  CLI::App* trampolineCmd =
      app.add_subcommand("trampoline", "Build and check trampolines: on --hex bytes, or an IMAGE's functions.");
  trampolineCmd->add_option("IMAGE", trampoline.image, "PE image (or use --arch and --hex)");
  trampolineCmd->add_option("--arch", trampoline.arch, "x64 | arm64 (with --hex)");
  trampolineCmd->add_option("--hex", trampoline.hex, "the function's bytes, as hex");
  trampolineCmd->add_option("--address", trampoline.address, "address of the --hex function (0x140001000)");
  trampolineCmd->add_option("--function", trampoline.function, "with IMAGE: one function");
  trampolineCmd->add_flag("--all", trampoline.all, "with IMAGE: every function (JSON: an array)");
  trampolineCmd->add_option("--protocol", trampoline.protocol, redirectHelp());
  trampolineCmd->add_option("--states", trampoline.states, "random states for the differential check")
      ->capture_default_str()
      ->transform(unsignedIn(limits::kMinStates, limits::kMaxStates));
  trampolineCmd->add_flag("--json", trampoline.json, "machine-readable output");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Usage errors are bad input: one line, exit 2.
    fmt::print(stderr, "hph: {}{}\n", echoText(e.what(), 300), "  (see hph --help)");
    return kExitBadInput;
  }
  try {
    if (*inspectCmd) return runInspect(inspect);
    if (*callCmd) return runCall(call);
    if (*checkCmd) return runCheck(check);
    if (*mergeCmd) return runMerge(merge);
    if (*gateCmd) return runGate(gate);
    if (*replayCmd) return runReplay(replay);
    if (*trampolineCmd) return runTrampoline(trampoline);
    if (*planCmd) return runPlan(plan);
    if (*onhostCmd) return runOnHost(onhost);
  } catch (const std::exception& e) {
    fmt::print(stderr, "hph: internal error: {}\n", e.what());
    return kExitInternal;
  }
  return kExitInternal;
}
