// What an Arm64EC image needs from a C runtime it does not link (corpus/build.sh builds
// hybrid.arm64ec.dll freestanding): the IMAGE_LOAD_CONFIG_DIRECTORY64 the loader reads,
// pointing at the image's CHPE metadata (IMAGE_ARM64EC_METADATA, version 2), and the
// __os_arm64x_* slots the loader fills with the emulator's routines. lld-link defines the
// __hybrid_*, __x64_*, __arm64x_* symbols the metadata names for /machine:arm64ec.

// The slots: 8 bytes each, zero until the loader (or hph) fills them. Compilers name some
// of them twice (check_call is dispatch_call, check_icall is dispatch_icall).
        .section .00cfg,"dr"
        .p2align 3
        .globl __os_arm64x_dispatch_call_no_redirect
__os_arm64x_dispatch_call_no_redirect:
        .xword 0
        .globl __os_arm64x_dispatch_ret
__os_arm64x_dispatch_ret:
        .xword 0
        .globl __os_arm64x_check_call
        .globl __os_arm64x_dispatch_call
__os_arm64x_check_call:
__os_arm64x_dispatch_call:
        .xword 0
        .globl __os_arm64x_check_icall
        .globl __os_arm64x_dispatch_icall
__os_arm64x_check_icall:
__os_arm64x_dispatch_icall:
        .xword 0
        .globl __os_arm64x_check_icall_cfg
        .globl __os_arm64x_dispatch_icall_cfg
__os_arm64x_check_icall_cfg:
__os_arm64x_dispatch_icall_cfg:
        .xword 0
        .globl __os_arm64x_get_x64_information
__os_arm64x_get_x64_information:
        .xword 0
        .globl __os_arm64x_set_x64_information
__os_arm64x_set_x64_information:
        .xword 0
        .globl __os_arm64x_dispatch_fptr
__os_arm64x_dispatch_fptr:
        .xword 0

// IMAGE_LOAD_CONFIG_DIRECTORY64, 0x140 bytes as the other corpus images' (loadconfig.c):
// only Size and CHPEMetadataPointer (+0xC8, a VA the base relocations keep right) are set.
        .globl _load_config_used
        .p2align 3
_load_config_used:
        .word 0x140
        .fill 0xC8 - 4, 1, 0
        .xword __chpe_metadata
        .fill 0x140 - 0xD0, 1, 0

// IMAGE_ARM64EC_METADATA, version 2: RVAs, counts and the slots above.
        .section .rdata,"dr"
        .p2align 2
        .globl __chpe_metadata
__chpe_metadata:
        .word 2                                          // Version
        .rva  __hybrid_code_map                          // CodeMap
        .word __hybrid_code_map_count                    // CodeMapCount
        .rva  __x64_code_ranges_to_entry_points          // CodeRangesToEntryPoints
        .rva  __arm64x_redirection_metadata              // RedirectionMetadata
        .rva  __os_arm64x_dispatch_call_no_redirect
        .rva  __os_arm64x_dispatch_ret
        .rva  __os_arm64x_dispatch_call
        .rva  __os_arm64x_dispatch_icall
        .rva  __os_arm64x_dispatch_icall_cfg
        .rva  __arm64x_native_entrypoint                 // AlternateEntryPoint
        .rva  __hybrid_auxiliary_iat                     // AuxiliaryIAT
        .word __x64_code_ranges_to_entry_points_count
        .word __arm64x_redirection_metadata_count
        .rva  __os_arm64x_get_x64_information
        .rva  __os_arm64x_set_x64_information
        .rva  __arm64x_extra_rfe_table                   // ExtraRFETable (Arm64 .pdata)
        .word __arm64x_extra_rfe_table_size              // ExtraRFETableSize, bytes
        .rva  __os_arm64x_dispatch_fptr
        .rva  __hybrid_auxiliary_iat_copy                // AuxiliaryIATCopy
        .rva  __hybrid_auxiliary_delayload_iat           // AuxiliaryDelayloadIAT
        .rva  __hybrid_auxiliary_delayload_iat_copy      // AuxiliaryDelayloadIATCopy
        .word __hybrid_image_info_bitfield               // HybridImageInfoBitfield
