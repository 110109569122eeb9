// IMAGE_ARM64EC_METADATA, the CHPE (hybrid) metadata an Arm64EC image's load config points
// at, read by hand (LIEF 0.9 does not parse it): the code map, the x64 ranges' entry
// points, the loader's redirections, the emulator's dispatch slots and the Arm64 exception
// table; and from them and the code, each Arm64EC function's entry paths (its x64
// fast-forward sequence, its entry thunk, whether Arm64EC callers go through its x64 entry).
// Malformed metadata is bad input naming the field.
#pragma once

#include "emu/pe/PeImage.h"
#include "emu/pe/UnwindTable.h"

namespace hph::pe {

// `pointer` is the load config's CHPEMetadataPointer (a VA). Needs the exports read.
Result<ChpeInfo> readChpeMetadata(const PeImage& image, uint64_t pointer);

// The 16 bytes of an Arm64EC export's x64 entry as lld emits them:
// mov rax, rsp; mov [rax+0x20], rbx; push rbp; pop rbp; jmp rel32; int3; int3.
// The jump's target, when `bytes` at `rva` are such a sequence (its first
// kFastForwardBytes, through the rel32).
inline constexpr uint32_t kFastForwardBytes = 14;
std::optional<uint32_t> fastForwardTarget(std::span<const uint8_t> bytes, uint32_t rva);

// Every address the image's Arm64 code computes with ADRP Xd then ADD Xd, Xd, #lo12 within
// the next few instructions, with where (the ADRP's RVA): what a hybpatch thunk does with
// its function's x64 entry, and code taking a function's address. One pass over the code.
std::vector<std::pair<uint32_t, uint32_t>> addressesComputedByArm64Code(const PeImage& image, const ChpeInfo& chpe);
// Every BL in the image's Arm64 code, with its target: (the BL's RVA, the target's RVA).
std::vector<std::pair<uint32_t, uint32_t>> directCallsByArm64Code(const PeImage& image, const ChpeInfo& chpe);

// The Arm64EC functions with an entry-thunk word at body-4, as (body, thunk) RVAs by body.
// Candidates are the places known to begin Arm64EC functions: the exports' bodies, the
// ExtraRFETable's entries (`arm64Functions`), BL targets and computed addresses. A word
// counts when its low bit is set, the thunk it names (body + word, less that bit) is
// executable Arm64EC code, and it lies inside no function's unwind range (then it is
// another function's last instruction, not a word the linker put there).
std::vector<std::pair<uint32_t, uint32_t>> findEntryThunkWords(const PeImage& image, const ChpeInfo& chpe,
                                                               const std::vector<UnwindEntry>& arm64Functions);

// Bad input for emulation: an image whose code map holds code of another kind than its PE
// machine (an Arm64EC image's Arm64 code). One engine would run the other kind's bytes as
// its own and report faults or results that mean nothing. Only a hybrid process
// (emu/hybrid, `hph call`) runs both kinds; threads over both engines are not built yet
// (docs/design.md).
Result<void> requireOneKindOfCode(const PeImage& image);

}  // namespace hph::pe
