//! `p2psec`: key generation, PeerId inspection and a demo of the library's machines.
//!
//! Every command takes `--json` and then prints one JSON object per result, so scripts can
//! use it. Errors go to stderr with a non-zero exit.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
mod demo_noise;
mod inspect_cert;
mod keygen;
mod output;
mod peer_id;

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
    /// Make identities and run the library's machines against each other in memory.
    Demo(demo::Args),
    /// Check a DER or PEM certificate by the libp2p TLS rules; print its PeerId.
    InspectCert(inspect_cert::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = output::Output::new(cli.json);
    let result = match cli.command {
        Command::Keygen(args) => keygen::run(args, &out),
        Command::PeerId(args) => peer_id::run(args, &out),
        Command::Demo(args) => demo::run(args, &out),
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
