//! The process's global allocator: mimalloc, entered through its plain (unaligned) functions whenever the
//! requested alignment is one mimalloc's size classes already give.
//!
//! Why by hand: the `mimalloc` crate's `GlobalAlloc` sends every call through `mi_malloc_aligned`, whose fast
//! path only covers blocks up to 1 KiB; every larger block (hyper's 8 KiB read buffers, `BytesMut` growth)
//! takes mimalloc's generic aligned path, about 200 instructions, several times per proxied request
//! (callgrind, docs/benchmarks.md). Nothing else here touches memory directly.
//!
//! The alignment argument (mimalloc v3 sources, `types.h` and `page.c`): every block size class is a
//! multiple of the word size (8 bytes), and the first block of every page starts at a 16-byte boundary
//! (`MI_PAGE_MIN_START_BLOCK_ALIGN`). So a plain `mi_malloc` block is always 8-byte aligned, and it is
//! 16-byte aligned when its size class is a multiple of 16, which holds for every request whose size is a
//! multiple of 16 (the classes at or above 16 bytes that are not multiples of 16 are 24, 40 and 56 bytes,
//! which no multiple-of-16 size rounds up to). Any other alignment goes to mimalloc's aligned functions.
#![allow(unsafe_code)] // `GlobalAlloc` is an unsafe trait: implementing it is the whole point of this module.

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;

use libmimalloc_sys as mi;

/// mimalloc with plain calls where they are guaranteed to meet the layout's alignment.
pub struct Allocator;

/// Whether a plain mimalloc block of `size` bytes is guaranteed to be aligned to `align` (see the module doc).
#[inline(always)]
fn plain_is_aligned(size: usize, align: usize) -> bool {
    align <= 8 || (align <= 16 && size % 16 == 0)
}

// SAFETY: every method forwards to mimalloc, which returns blocks of at least the requested size or null;
// the plain functions are only used when `plain_is_aligned` shows their blocks meet `layout.align()`, and
// every block, plain or aligned, is freed with `mi_free`, which accepts both.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: plain FFI calls with a size and a power-of-two alignment taken from a valid `Layout`.
        unsafe {
            if plain_is_aligned(layout.size(), layout.align()) {
                mi::mi_malloc(layout.size()) as *mut u8
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            if plain_is_aligned(layout.size(), layout.align()) {
                mi::mi_zalloc(layout.size()) as *mut u8
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator (the `GlobalAlloc` contract), so from mimalloc.
        unsafe { mi::mi_free(ptr as *mut c_void) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from mimalloc; the new block must meet `layout.align()` at `new_size`.
        unsafe {
            if plain_is_aligned(new_size, layout.align()) {
                mi::mi_realloc(ptr as *mut c_void, new_size) as *mut u8
            } else {
                mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every size up to 5 KiB (past the 1 KiB small-block limit) and every alignment up to 4 KiB: the block is
    /// aligned as asked, writable over its whole size, survives a realloc with its contents, and frees.
    #[test]
    fn blocks_meet_every_layouts_alignment() {
        let a = Allocator;
        let mut held = Vec::new();
        for align in (0..=12).map(|s| 1usize << s) {
            for size in (1..=5 * 1024).step_by(7).chain([16, 24, 32, 48, 64, 1024, 1040, 8192, 65536]) {
                let layout = Layout::from_size_align(size, align).expect("valid layout");
                // SAFETY: non-zero size; each block is written within its size, then freed with its layout.
                unsafe {
                    let p = if size % 3 == 0 { a.alloc_zeroed(layout) } else { a.alloc(layout) };
                    assert!(!p.is_null(), "size {size} align {align}");
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    p.write_bytes(0xA5, size);
                    let grown = a.realloc(p, layout, size * 2 + 8);
                    assert!(!grown.is_null());
                    assert_eq!(grown as usize % align, 0, "realloc size {size} align {align}");
                    assert_eq!(*grown.add(size - 1), 0xA5);
                    held.push((grown, Layout::from_size_align(size * 2 + 8, align).expect("valid layout")));
                }
                // Keep some blocks alive so later ones come from partly used pages, not the same free slot.
                if held.len() > 64 {
                    let (p, l) = held.remove(0);
                    // SAFETY: allocated above with layout `l`.
                    unsafe { a.dealloc(p, l) };
                }
            }
        }
        for (p, l) in held {
            // SAFETY: allocated above with layout `l`.
            unsafe { a.dealloc(p, l) };
        }
    }
}
