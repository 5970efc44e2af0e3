#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| p2psec::fuzzing::mplex_connection(data));
