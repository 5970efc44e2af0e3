//! `p2psec`: key generation, PeerId inspection, certificate checks, and a libp2p node
//! that listens and dials over TCP (ping, echo) with the library's upgrade.
//!
//! Every command takes `--json` and then prints one JSON object per result, so scripts can
//! use it. Errors go to stderr with a non-zero exit.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
mod dial;
mod inspect_cert;
mod keygen;
mod listen;
mod net;
mod output;
mod peer_id;
mod psk;

#[derive(Parser)]
#[command(name = "p2psec", version, about = "Sans-IO libp2p connection security")]
struct Cli {
    /// Print one JSON object per result instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate an identity key pair; write its protobuf private key and print its PeerId.
    Keygen(keygen::Args),
    /// Print the PeerId (base58 and CID) of a protobuf-encoded key.
    PeerId(peer_id::Args),
    /// Listen and dial over loopback TCP for each security protocol: the upgrade, a
    /// ping, a 64 MiB echo; print a table.
    Demo(demo::Args),
    /// Accept libp2p connections and serve ping and echo on their yamux or mplex streams.
    Listen(listen::Args),
    /// Connect to a libp2p node, ping it, check an echo.
    Dial(dial::Args),
    /// Check a DER or PEM certificate by the libp2p TLS rules; print its PeerId.
    InspectCert(inspect_cert::Args),
    /// Private-network keys (libp2p pnet): generate one, or print a key's fingerprint.
    #[command(subcommand)]
    Psk(psk::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = output::Output::new(cli.json);
    let result = match cli.command {
        Command::Keygen(args) => keygen::run(args, &out),
        Command::Psk(args) => psk::run(args, &out),
        Command::PeerId(args) => peer_id::run(args, &out),
        Command::Demo(args) => demo::run(args, &out),
        Command::Listen(args) => listen::run(args, &out),
        Command::Dial(args) => dial::run(args, &out),
        Command::InspectCert(args) => inspect_cert::run(args, &out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out.error(&e);
            ExitCode::FAILURE
        }
    }
}
