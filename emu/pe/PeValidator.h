// Our own bounds-checked validation, run before LIEF sees the bytes: LIEF 0.9 silently
// accepts truncated files, 0xFFFF sections, absurd raw sizes and garbage directories.
// It fills the header fields, section table and data directories of a PeImage.
#pragma once

#include "emu/pe/PeImage.h"

namespace hph::pe {

// DOS/PE headers, optional header, section table. Fills the header part of `image`.
Result<void> validateHeaders(PeImage& image);
// Every data directory lies inside the image; the export, import and base-relocation
// structures they point at are walkable (bounded counts, in-image RVAs, terminated).
Result<void> validateDirectories(const PeImage& image);

}  // namespace hph::pe
