//! The secured channel an upgrade ends in: ciphertext in and out, plaintext for the muxer.
//!
//! Unlike the Rust channel, which consumes whole frames only, this one keeps the start
//! of a frame whose rest has not arrived (at most one frame: 64 KiB for Noise, 16 KiB
//! for TLS), so a Python caller can hand it every byte it reads. It stops consuming only
//! while a full frame waits because the received plaintext was not read.

use crate::data::Data;
use p2psec::upgrade::{self, SecureChannel as Channel, Upgraded};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::{bad_argument, upgrade_error};
use crate::keys::PeerId;
use crate::RELEASE_GIL_FROM;

/// The secured channel: feed it the peer's ciphertext with `receive_data`, take the
/// plaintext with `read`; give it plaintext with `write`, send what `data_to_send`
/// returns. The first error is raised again by every later call.
#[pyclass(module = "p2psec._native")]
pub struct SecureChannel {
    channel: Channel,
    muxer: Option<String>,
    security: &'static str,
    /// The start of a frame whose rest has not arrived yet.
    partial: Vec<u8>,
    error: Option<upgrade::Error>,
}

impl SecureChannel {
    pub(crate) fn new(upgraded: Upgraded) -> Self {
        Self {
            security: upgraded.security.protocol_id(),
            muxer: upgraded.muxer,
            channel: upgraded.channel,
            partial: Vec::new(),
            error: None,
        }
    }

    fn check(&self, py: Python<'_>) -> PyResult<()> {
        match &self.error {
            Some(e) => Err(upgrade_error(py, e)),
            None => Ok(()),
        }
    }

    /// Records a peer's error (misuse is the caller's and poisons nothing).
    fn fail(&mut self, py: Python<'_>, e: upgrade::Error) -> PyErr {
        if e.fault() == p2psec::Fault::ApiMisuse {
            return upgrade_error(py, &e);
        }
        upgrade_error(py, self.error.get_or_insert(e))
    }

    /// Completes the held partial frame from `data`; returns how many bytes of `data` it
    /// took, and whether the frame went in (false: still partial, or waiting for reads).
    fn feed_partial(&mut self, data: &[u8]) -> Result<(usize, bool), upgrade::Error> {
        let mut taken = 0;
        loop {
            let want = self
                .channel
                .frame_len(&self.partial)
                .unwrap_or(self.partial.len());
            if self.partial.len() >= want {
                break;
            }
            let rest = data.get(taken..).unwrap_or_default();
            if rest.is_empty() {
                return Ok((taken, false));
            }
            let n = (want - self.partial.len()).min(rest.len());
            self.partial
                .extend_from_slice(rest.get(..n).unwrap_or_default());
            taken += n;
        }
        let used = self.channel.handle_input(&self.partial)?;
        if used == 0 {
            return Ok((taken, false));
        }
        self.partial.drain(..used.min(self.partial.len()));
        if self.partial.is_empty() {
            // a burst's room is not kept by an idle connection
            self.partial = Vec::new();
        }
        Ok((taken, self.partial.is_empty()))
    }

    fn receive(&mut self, data: &[u8]) -> Result<usize, upgrade::Error> {
        let mut used = 0;
        if !self.partial.is_empty() {
            let (taken, went_in) = self.feed_partial(data)?;
            used += taken;
            if !went_in {
                return Ok(used);
            }
        }
        let rest = data.get(used..).unwrap_or_default();
        let n = self.channel.handle_input(rest)?;
        used += n;
        let tail = rest.get(n..).unwrap_or_default();
        if tail.is_empty() {
            return Ok(used);
        }
        // keep the tail only if it is the start of one frame; a whole frame left over
        // waits for `read` in the caller's buffer
        match self.channel.frame_len(tail) {
            Some(len) if len > tail.len() => {
                self.partial.extend_from_slice(tail);
                Ok(used + tail.len())
            }
            _ => Ok(used),
        }
    }
}

#[pymethods]
impl SecureChannel {
    /// Feeds ciphertext from the peer; returns how many bytes were consumed: all of
    /// them, unless received plaintext waits to be read (then call `read` and feed the
    /// rest again). Raises the library's error (and again on every later call).
    fn receive_data(&mut self, py: Python<'_>, data: Data) -> PyResult<usize> {
        self.check(py)?;
        let result = if data.len() >= RELEASE_GIL_FROM {
            py.detach(|| self.receive(&data))
        } else {
            self.receive(&data)
        };
        result.map_err(|e| self.fail(py, e))
    }

    /// Up to `max_bytes` of received plaintext (empty: nothing waiting; see `peer_closed`).
    #[pyo3(signature = (max_bytes = 65536))]
    fn read<'py>(&mut self, py: Python<'py>, max_bytes: usize) -> PyResult<Bound<'py, PyBytes>> {
        self.check(py)?;
        if max_bytes == 0 {
            return Err(bad_argument(py, "max_bytes must be at least 1"));
        }
        let n = max_bytes.min(self.channel.readable());
        let mut buf = vec![0u8; n];
        let got = self.channel.read(&mut buf).map_err(|e| self.fail(py, e))?;
        buf.truncate(got);
        // room was made: a frame held back for it can go in now
        if !self.partial.is_empty() {
            self.feed_partial(&[]).map_err(|e| self.fail(py, e))?;
        }
        Ok(PyBytes::new(py, &buf))
    }

    /// Received plaintext waiting for `read`, in bytes.
    #[getter]
    fn readable(&self) -> usize {
        self.channel.readable()
    }

    /// Encrypts plaintext; returns how many bytes were taken (all of them unless much
    /// output waits in the channel: send `data_to_send()` and write the rest).
    fn write(&mut self, py: Python<'_>, data: Data) -> PyResult<usize> {
        self.check(py)?;
        let channel = &mut self.channel;
        let result = if data.len() >= RELEASE_GIL_FROM {
            py.detach(|| write_all(channel, &data))
        } else {
            write_all(channel, &data)
        };
        result.map_err(|e| self.fail(py, e))
    }

    /// The ciphertext to send to the peer now (empty when there is none).
    fn data_to_send<'py>(&mut self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let mut out = Vec::with_capacity(self.channel.pending_transmit());
        let _ = self.channel.poll_transmit(&mut out);
        PyBytes::new(py, &out)
    }

    /// We send nothing more: TLS queues its close_notify (send `data_to_send()`), Noise
    /// has no closing message (close the transport's write side).
    fn close(&mut self) {
        self.channel.close();
    }

    /// Whether the peer closed its side (TLS close_notify); after the transport's end of
    /// stream, Noise's close is the caller's to see.
    #[getter]
    fn peer_closed(&self) -> bool {
        self.channel.is_peer_closed()
    }

    /// Ciphertext held for a frame not complete yet (a driver that sees the end of the
    /// stream with this above 0 has a truncated frame).
    #[getter]
    fn buffered_input(&self) -> usize {
        self.partial.len() + self.channel.buffered_input()
    }

    /// The remote's proven PeerId.
    #[getter]
    fn remote_peer_id(&self) -> PeerId {
        PeerId(self.channel.remote_peer_id())
    }

    /// The remote's identity public key in libp2p's protobuf encoding: the key its
    /// handshake was checked against (an RSA or ECDSA PeerId holds only its hash).
    #[getter]
    fn remote_public_key_protobuf<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.channel.remote_public_key().encode_protobuf())
    }

    /// The security protocol id: "/noise", "/tls/1.0.0" or "/secio/1.0.0".
    #[getter]
    fn security(&self) -> &'static str {
        self.security
    }

    /// The muxer agreed (a protocol id), or `None` when none was configured.
    #[getter]
    fn muxer(&self) -> Option<String> {
        self.muxer.clone()
    }

    /// The cipher in use ("ChaChaPoly", a TLS 1.3 suite name, a SECIO suite).
    #[getter]
    fn cipher(&self) -> &'static str {
        self.channel.cipher()
    }

    fn __repr__(&self) -> String {
        format!(
            "SecureChannel(remote={}, security={}, muxer={})",
            self.channel.remote_peer_id(),
            self.security,
            self.muxer.as_deref().unwrap_or("None")
        )
    }
}

/// Writes as much of `data` as the channel takes in one go, the way a socket's `send`
/// does (frames are sealed as they go; the output waits for `data_to_send`).
fn write_all(channel: &mut Channel, data: &[u8]) -> Result<usize, upgrade::Error> {
    let mut taken = 0;
    while taken < data.len() {
        let n = channel.write(data.get(taken..).unwrap_or_default())?;
        if n == 0 {
            break;
        }
        taken += n;
    }
    Ok(taken)
}
