// Whether the hand-written x86 SIMD paths (AVX2 / AVX-512 key search, AVX2
// newline count) are compiled in: on x86-64 unless the build switches them
// off (cmake -DTPMDIAG_X86_ENGINES=OFF, which CI builds to keep the portable
// paths compiling, as on aarch64). Where they are off, Vectorscan and plain
// loops do the same work.
#pragma once

#if defined(__x86_64__) && !defined(TPMDIAG_NO_X86)
#define TPMDIAG_X86_ENGINES 1
#else
#define TPMDIAG_X86_ENGINES 0
#endif
