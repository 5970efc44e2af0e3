//! The js-libp2p interop peer (`tests/interop/js/peer.mjs`): its npm packages installed
//! once per test binary by `tests/interop/js/install.sh` (pinned by the lock file beside
//! it; Node.js >= 20 and npm must be on PATH: tests fail, they do not skip, without them),
//! and the command that runs it.
//!
//! Included with `#[path = "common/js_peer.rs"] mod js_peer;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub(crate) fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/js")
}

/// Runs `tests/interop/js/install.sh` once per test binary; panics with its output when
/// node or npm is missing or `npm ci` fails.
pub(crate) fn install_js_peer() {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = INSTALLED.get_or_init(|| {
        for tool in ["node", "npm"] {
            if let Err(e) = Command::new(tool).arg("--version").output() {
                return Err(format!(
                    "`{tool} --version` failed ({e}): the js-libp2p interop test needs \
                     Node.js >= 20 and npm on PATH"
                ));
            }
        }
        let script = js_dir().join("install.sh");
        let out = Command::new("bash")
            .arg(&script)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("could not run bash {}: {e}", script.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
                script.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(e) = result {
        panic!("installing the js-libp2p interop peer failed: {e}");
    }
}

pub(crate) fn node_peer(args: &[&str]) -> Command {
    let mut cmd = Command::new("node");
    cmd.current_dir(js_dir()).arg("peer.mjs").args(args);
    cmd
}
