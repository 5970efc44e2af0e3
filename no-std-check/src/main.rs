//! Links p2psec's core into a `no_std`, `no_main` binary. It is built, never run: the
//! point is the link step, where a dependency that pulled in std would clash with the
//! panic handler below.
#![no_std]
#![no_main]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};
use core::panic::PanicInfo;

/// Linking `alloc` needs a global allocator; this one has no memory (every allocation
/// fails and aborts), which is enough because the binary is never run.
struct NoMemory;

unsafe impl GlobalAlloc for NoMemory {
    unsafe fn alloc(&self, _layout: Layout) -> *mut u8 {
        core::ptr::null_mut()
    }
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

// Rust passes -nodefaultlibs for no_std binaries; the C runtime's `_start` and the
// compiler's `memcmp`/`bcmp` calls come from libc.
#[link(name = "c")]
extern "C" {}

#[global_allocator]
static GLOBAL: NoMemory = NoMemory;

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    loop {}
}

/// The prebuilt `alloc` was compiled with unwinding and names this symbol; with
/// `panic = "abort"` it is never called.
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

/// The C runtime's entry point; it uses the core so the code is really linked.
#[no_mangle]
pub extern "C" fn main(_argc: isize, _argv: *const *const u8) -> isize {
    let id = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
        .parse::<p2psec::PeerId>()
        .map(|id| id.as_bytes().len())
        .unwrap_or(0);
    let key_ok = p2psec::PublicKey::try_decode_protobuf(&[8, 1, 18, 0]).is_ok();
    let dialer = p2psec::multistream::Dialer::new(["/noise"], p2psec::multistream::Version::V1);
    let mut out = alloc::vec::Vec::new();
    let sent = match dialer {
        Ok(mut d) => d.poll_transmit(&mut out),
        Err(_) => 0,
    };
    // the Noise payload codec and transport sizes, from the no_std build of the layer
    let payload = p2psec::noise::payload::Payload::decode(&[]).is_ok();
    let frame = p2psec::noise::SendHalf::frame_len(1);
    (id + sent + usize::from(key_ok) + usize::from(payload) + frame) as isize
}
