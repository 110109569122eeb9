/* The image's IMAGE_LOAD_CONFIG_DIRECTORY64: lld points the LOAD_CONFIG data directory
 * at the symbol `_load_config_used`. Base images carry no hotpatch table or CHPE
 * metadata (offsets 0xF0 and 0xC8 stay zero); hotpatch images fill in 0xF0. */
#include <stdint.h>

#define LOAD_CONFIG_SIZE 0x140 /* Windows 11 24H2 size, covers HotPatchTableOffset */

struct load_config {
  uint32_t size;
  uint8_t rest[LOAD_CONFIG_SIZE - 4];
};

__attribute__((aligned(8))) const struct load_config _load_config_used = {LOAD_CONFIG_SIZE, {0}};
