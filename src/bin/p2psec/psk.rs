//! `p2psec psk`: private-network keys (libp2p pnet): generate a key file, or print a key
//! file's fingerprint (what go-libp2p and rust-libp2p print for the same key).

use std::path::PathBuf;

use p2psec::pnet::PreSharedKey;
use serde_json::json;

use crate::keygen::write_secret;
use crate::output::{CliError, Output};

#[derive(clap::Subcommand)]
pub(crate) enum Args {
    /// A new key from the OS random number generator, as a key file
    /// (`/key/swarm/psk/1.0.0/`, `/base16/`, 64 hex digits), and its fingerprint.
    Generate {
        /// Write the key file here (created new, mode 0600). Without it, the file's text is
        /// printed (it is the secret).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The fingerprint of a key file's key.
    Fingerprint {
        /// The key file.
        file: PathBuf,
    },
}

pub(crate) fn run(args: Args, out: &Output) -> Result<(), CliError> {
    match args {
        Args::Generate { out: path } => {
            let key = PreSharedKey::generate(&mut p2psec::adapters::os_rng());
            let file = key.to_key_file();
            let mut fields = vec![("fingerprint", json!(key.fingerprint().to_string()))];
            match &path {
                Some(path) => {
                    write_secret(path, file.as_bytes())
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    fields.push(("key_file", json!(path.display().to_string())));
                }
                None => fields.push(("key_file_text", json!(file.as_str()))),
            }
            out.record(&fields);
        }
        Args::Fingerprint { file } => {
            let key = read(&file)?;
            out.record(&[("fingerprint", json!(key.fingerprint().to_string()))]);
        }
    }
    Ok(())
}

/// Reads a key file.
pub(crate) fn read(path: &std::path::Path) -> Result<PreSharedKey, CliError> {
    let bytes = zeroize::Zeroizing::new(
        std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?,
    );
    PreSharedKey::from_key_file(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}
