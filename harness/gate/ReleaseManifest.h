// A release manifest (`hph gate MANIFEST`, docs/gate.md): the images a patch release
// ships, the scenarios that explore them per architecture, and the stages to run, each
// with its budget. Everything a scenario names must be the manifest's own images: a gate
// that explored other bytes than the release's would say nothing about the release.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "emu/core/Arch.h"
#include "support/Result.h"

namespace hph {

struct ReleaseImages {
  ArchKind arch = ArchKind::kX64;
  std::string base;                    // resolved paths
  std::vector<std::string> patches;    // one image, or a cumulative series
  std::vector<std::string> scenarios;  // each names this base and these patches
};

enum class GateStage { kCheck, kTrampoline, kOnHost };
std::string_view gateStageName(GateStage stage);

struct ReleaseManifest {
  std::string path;  // as given; messages start with it
  std::string release;
  std::vector<ReleaseImages> images;
  struct Check {
    std::optional<double> maxTime;      // seconds per scenario; cut short is not a pass
    std::optional<uint64_t> schedules;  // exhaustive: the cap (reached: not a pass)
  } check;
  struct Trampoline {
    bool run = true;
    uint32_t states = 64;  // random entry states per trampoline's differential check
  } trampoline;
  struct OnHost {
    bool run = true;
    std::string patcher = "in-process";
    uint32_t threads = 4;
    double duration = 0.2;
  } onhost;
};

// Reads and checks the manifest: its tables strictly (unknown keys refused), the images
// readable, and every scenario of the manifest's architecture, base and patches, expecting
// its patch to hold. Bad input names the file and the field.
Result<ReleaseManifest> loadReleaseManifest(const std::string& path);

}  // namespace hph
