//! `p2psec keygen`: a fresh identity from the OS random number generator.

use std::io::Write;
use std::path::PathBuf;

use p2psec::identity::{KeyType, Keypair};
use serde_json::json;

use crate::output::{CliError, Output};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Key type: ed25519, secp256k1 or ecdsa (P-256).
    #[arg(long = "type", default_value = "ed25519")]
    key_type: KeyType,
    /// Write the protobuf private key here (created new, mode 0600). Without it, the key is
    /// printed as hex.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(crate) fn run(args: Args, out: &Output) -> Result<(), CliError> {
    let pair = Keypair::generate_with_os_rng(args.key_type).map_err(|e| e.to_string())?;
    let id = pair.peer_id();
    let encoded = pair.encode_protobuf();
    let mut fields = vec![
        ("peer_id", json!(id.to_base58())),
        ("peer_id_cid", json!(id.to_cid_string())),
        ("key_type", json!(pair.key_type().as_str())),
        (
            "public_key_hex",
            json!(hex(&pair.public().encode_protobuf())),
        ),
    ];
    match &args.out {
        Some(path) => {
            write_secret(path, &encoded).map_err(|e| format!("{}: {e}", path.display()))?;
            fields.push(("key_file", json!(path.display().to_string())));
        }
        None => fields.push(("private_key_hex", json!(hex(&encoded)))),
    }
    out.record(&fields);
    Ok(())
}

/// Creates the file (never overwrites an existing key) readable by its owner only.
pub(crate) fn write_secret(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}
