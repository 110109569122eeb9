// A hotpatch image's own description of what it patches, in the Windows layout:
// load config HotPatchTableOffset -> IMAGE_HOT_PATCH_INFO -> IMAGE_HOT_PATCH_BASE (the
// base image, by timestamp and checksum) -> a patch table. Windows does not publish the
// table's layout; ours uses the public chunk-type constants (docs/patches.md).
#pragma once

#include "emu/pe/PeImage.h"

namespace hph::pe {

// winnt.h chunk types and flags.
constexpr uint32_t kHotPatchChunkTypeMask = 0x000FC000;
constexpr uint32_t kHotPatchSourceRva = 0x00008000;
constexpr uint32_t kHotPatchTargetRva = 0x00004000;
constexpr uint32_t kHotPatchFunction = 0x0001C000;  // source: new function; target: old one
constexpr uint32_t kHotPatchAbsolute = 0x0002C000;  // source: a pointer cell; target: what it holds

constexpr uint32_t kHotPatchInfoSize = 28;   // IMAGE_HOT_PATCH_INFO, version 3
constexpr uint32_t kHotPatchBaseSize = 32;   // IMAGE_HOT_PATCH_BASE, version 2
constexpr uint32_t kHotPatchEntrySize = 12;  // ours: type, source RVA, target RVA
constexpr uint32_t kMaxHotPatchEntries = 1u << 16;

Result<void> readHotPatchTable(PeImage& image);

}  // namespace hph::pe
