/* The native Arm64 half of the ARM64X image hybridx.arm64x.dll (docs/design.md, "Hybrid
 * processes"): the file is this native view; its ARM64X dynamic value relocations turn it
 * into the Arm64EC view of hybrid.c and hybrid_x64.c that an x64 process loads. `add`
 * exists in both views (native Arm64 code here, Arm64EC code there); `native_machine` only
 * in this one. */
#include "corpus.h"

CORPUS_EXPORT uint64_t add(uint64_t a, uint64_t b) { return a + b; }

/* IMAGE_FILE_MACHINE_ARM64: the machine this view's header names. */
CORPUS_EXPORT uint64_t native_machine(void) { return 0xAA64; }
