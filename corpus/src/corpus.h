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

#endif
