//! `p2psec peer-id`: the PeerId of a key given as hex or in a key file.

use std::path::PathBuf;

use p2psec::identity::{Keypair, PublicKey};
use serde_json::json;

use crate::output::{CliError, Output};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// A protobuf-encoded public key, in hex.
    #[arg(required_unless_present = "key", conflicts_with = "key")]
    hex: Option<String>,
    /// A key file: a protobuf private key (as `keygen --out` writes) or public key.
    #[arg(long)]
    key: Option<PathBuf>,
}

pub(crate) fn run(args: Args, out: &Output) -> Result<(), CliError> {
    let public = match (&args.hex, &args.key) {
        (Some(hex), _) => {
            let bytes = data_encoding::HEXLOWER_PERMISSIVE
                .decode(hex.trim().as_bytes())
                .map_err(|e| format!("not hex: {e}"))?;
            PublicKey::try_decode_protobuf(&bytes).map_err(|e| format!("public key: {e}"))?
        }
        (None, Some(path)) => {
            let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            // A key file is normally a private key; a public key file is accepted too.
            match Keypair::try_decode_protobuf(&bytes) {
                Ok(pair) => pair.public(),
                Err(private_err) => PublicKey::try_decode_protobuf(&bytes).map_err(|_| {
                    format!("{}: not a key protobuf: {private_err}", path.display())
                })?,
            }
        }
        (None, None) => return Err("give a hex public key or --key FILE".into()),
    };
    let id = public.to_peer_id();
    out.record(&[
        ("peer_id", json!(id.to_base58())),
        ("peer_id_cid", json!(id.to_cid_string())),
        ("key_type", json!(public.key_type().as_str())),
        (
            "multihash",
            json!(if id.public_key().is_ok() {
                "identity"
            } else {
                "sha2-256"
            }),
        ),
    ]);
    Ok(())
}
