//! `p2psec inspect-cert`: checks a certificate by the libp2p TLS rules at the current time.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use p2psec::tls::certificate;
use serde_json::json;

use crate::output::{CliError, Output};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The certificate: DER, or PEM (`-----BEGIN CERTIFICATE-----`).
    file: PathBuf,
}

pub(crate) fn run(args: Args, out: &Output) -> Result<(), CliError> {
    let bytes = std::fs::read(&args.file).map_err(|e| format!("{}: {e}", args.file.display()))?;
    let der = match pem_body(&bytes) {
        Some(body) => data_encoding::BASE64_MIME
            .decode(body.as_bytes())
            .map_err(|e| format!("{}: PEM body is not base64: {e}", args.file.display()))?,
        None => bytes,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "the system clock is before 1970".to_string())?
        .as_secs();
    let verified =
        certificate::verify(&der, now).map_err(|e| format!("certificate rejected: {e}"))?;
    out.record(&[
        ("peer_id", json!(verified.peer_id.to_base58())),
        ("peer_id_cid", json!(verified.peer_id.to_cid_string())),
        ("key_type", json!(verified.public_key.key_type().as_str())),
        (
            "certificate_signature",
            json!(verified.signature_algorithm.to_string()),
        ),
        ("checked_at_unix", json!(now)),
    ]);
    Ok(())
}

/// The base64 between the first CERTIFICATE PEM markers, if the file is PEM.
fn pem_body(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let start = text.find("-----BEGIN CERTIFICATE-----")? + "-----BEGIN CERTIFICATE-----".len();
    let end = start + text.get(start..)?.find("-----END CERTIFICATE-----")?;
    Some(text.get(start..end)?.trim().to_string())
}
