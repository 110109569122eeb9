// What Unicorn 2.0.1 itself (no guard of ours) makes of one Arm64 word or one x64
// instruction, tried in a child process: translating some invalid encodings aborts the
// whole process.
#pragma once

#include <cstdint>
#include <span>

namespace hph::test {

enum class WordOutcome {
  kExecutes,  // translated and run (whatever it did to registers or memory)
  kRefuses,   // an invalid instruction or an exception: what hardware may do too
  kAborts,    // the child died translating it
};

WordOutcome probeArm64Word(uint32_t word);
WordOutcome probeX64Code(std::span<const uint8_t> code);

}  // namespace hph::test
