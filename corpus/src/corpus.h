/* Shared definitions for the corpus sources.
 *
 * These files are compiled twice: by clang-22 into freestanding Windows PE images
 * (x64, Arm64), and by the host compiler into the test binary, where they give the
 * reference results. Only fixed-width types are used, so both builds agree (Windows
 * is LLP64, Linux LP64: `long` differs, uint64_t does not). */
#ifndef HPH_CORPUS_H
#define HPH_CORPUS_H

#include <stdint.h>

#if defined(_WIN32)
#define CORPUS_EXPORT __declspec(dllexport)
#else
#define CORPUS_EXPORT
#endif

#define CORPUS_NOINLINE __attribute__((noinline))

/* On Arm64 some functions start with a NOP that a hotpatch may replace with a B while
 * other cores run it (one of the instructions Arm allows to be modified concurrently).
 * Leaf functions only: clang-22 rejects it on functions with an SEH prologue ("Incorrect
 * size for ... prologue"). */
#if defined(_WIN32) && defined(__aarch64__)
#define CORPUS_ENTRY_NOP __attribute__((patchable_function_entry(1)))
#else
#define CORPUS_ENTRY_NOP
#endif

/* A secure-hotpatch pointer cell for the global NAME: `__ref_NAME`, an 8-byte pointer in
 * .rdata holding &NAME, which the loader repoints at the base image's NAME (an ABSOLUTE
 * chunk of the patch's table, or the harness for an exported cell; docs/patches.md).
 * A hot-patched function reaches NAME only as CORPUS_REF(NAME), a load of the cell.
 * `const` puts the cell in .rdata, where clang's secure hotpatch puts the cells it
 * generates; `volatile` keeps the optimizer from folding the initializer, so every use
 * loads the cell at run time. The patch sources declare their cells with this macro
 * instead of -fms-secure-hotpatch-functions-list: clang-22 orders the cells it generates
 * by heap addresses, so their layout changed from one build machine to the next
 * (corpus/build.sh); declared cells are laid out in source order. */
#define CORPUS_HOTPATCH_REF(name) __typeof__(name) *const volatile __ref_##name = &(name)
#define CORPUS_REF(name) (*__ref_##name)

#endif
