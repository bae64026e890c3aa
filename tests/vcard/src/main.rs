//! `tokenconfirm-vcard`: a virtual OpenPGP card for tests.
//!
//! The card is [opcard] (Nitrokey's OpenPGP card implementation) running on trussed's software
//! platform (`trussed::virt`), with the trussed extensions opcard needs (trussed-auth for the
//! PINs, trussed-staging for wrap-key-to-file and chunked files). Its flash is two 64 KiB
//! littlefs images in the state directory, so a personalised card survives a restart: stopping
//! the process is pulling the card out, starting it again is putting it back in.
//!
//! The card talks to `vpcd` (vsmartcard's virtual reader driver for pcscd) over TCP: vpcd
//! listens, this program connects. Every message in both directions is a 2-byte big-endian
//! length and a payload; 1-byte payloads from vpcd are control codes (0x00 power off, 0x01 power
//! on, 0x02 reset, 0x04 get ATR: answered with the ATR), anything else is a command APDU,
//! answered with the response APDU. vpcd writes the length and the APDU in separate `send`s, so
//! with Nagle's algorithm on its side and delayed ACKs on ours every APDU would wait ~40-50 ms
//! for an ACK; re-arming TCP_QUICKACK after every read (Linux clears it on its own) avoids that.
//!
//! Exits 0 when vpcd closes the connection or on SIGTERM/SIGINT, 3 when made to "remove" itself
//! (`--die-on-ins`, `--die-after-apdus`), 2 on usage errors, 1 on other errors.
//!
//! FOR TESTS ONLY: trussed's software platform seeds its RNG with a constant.
#![forbid(unsafe_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use iso7816::command::Command;
use iso7816::Status;

mod platform;

const USAGE: &str = "usage: tokenconfirm-vcard --state DIR --port PORT [--host HOST]
       [--atr HEX] [--serial HEX8] [--no-quickack] [--connect-timeout SECONDS]
       [--die-on-ins HEX] [--die-after-apdus N] [--verbose]

  --state DIR          the card's flash (created if missing; keeps keys, certificates, PINs)
  --port PORT          vpcd's port (reader.conf CHANNELID / DEVICENAME /dev/null:PORT)
  --host HOST          vpcd's address (default 127.0.0.1)
  --atr HEX            the ATR (default: OpenPGP card 3.x, as Nitrokey/ZeitControl cards)
  --serial HEX8        the card serial number in the AID (default 00000001)
  --no-quickack        do not re-arm TCP_QUICKACK (to measure what it saves)
  --connect-timeout S  keep retrying to connect for S seconds (default 10)
  --die-on-ins HEX     drop the connection instead of answering the first APDU with this INS
                       (2A = PSO, i.e. the card is pulled out while signing), exit 3
  --die-after-apdus N  drop the connection when APDU number N+1 arrives, exit 3
  --verbose            log every APDU (INS, lengths, status, time) on stderr";

/// OpenPGP card 3.x ATR: T=1, historical bytes 00 31 F5 73 C0 01 60 00 90 00 (the ones opcard
/// reports in DO 5F52). agent/data/known-tokens.toml knows it as "OpenPGP card".
const DEFAULT_ATR: &str = "3B DA 18 FF 81 B1 FE 75 1F 03 00 31 F5 73 C0 01 60 00 90 00 1C";

/// Largest command (after chaining) and response the card handles; opcard's own limits.
pub const REQUEST_LEN: usize = 7609;
pub const RESPONSE_LEN: usize = 7609;

struct Args {
    state: PathBuf,
    host: String,
    port: u16,
    atr: Vec<u8>,
    serial: [u8; 4],
    quickack: bool,
    connect_timeout: Duration,
    die_on_ins: Option<u8>,
    die_after_apdus: Option<u64>,
    verbose: bool,
}

fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let digits: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok())
        .collect()
}

fn parse_port(s: &str) -> Option<u16> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn parse_args() -> Result<Args, String> {
    let mut state = None;
    let mut host = "127.0.0.1".to_owned();
    let mut port = None;
    let mut atr = parse_hex(DEFAULT_ATR).expect("default ATR");
    let mut serial = [0, 0, 0, 1];
    let mut quickack = true;
    let mut connect_timeout = Duration::from_secs(10);
    let mut die_on_ins = None;
    let mut die_after_apdus = None;
    let mut verbose = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--state" => state = Some(PathBuf::from(value("--state")?)),
            "--host" => host = value("--host")?,
            "--port" => {
                port = Some(parse_port(&value("--port")?).ok_or("--port: not a port number")?)
            }
            "--atr" => atr = parse_hex(&value("--atr")?).ok_or("--atr: not hex bytes")?,
            "--serial" => {
                let bytes = parse_hex(&value("--serial")?).ok_or("--serial: not hex")?;
                serial = bytes
                    .try_into()
                    .map_err(|_| "--serial: give 4 bytes (8 hex digits)")?;
            }
            "--no-quickack" => quickack = false,
            "--connect-timeout" => {
                let s: u64 = value("--connect-timeout")?
                    .parse()
                    .map_err(|_| "--connect-timeout: not a number of seconds")?;
                connect_timeout = Duration::from_secs(s);
            }
            "--die-on-ins" => {
                let b = parse_hex(&value("--die-on-ins")?).ok_or("--die-on-ins: not hex")?;
                die_on_ins = Some(
                    *b.first()
                        .filter(|_| b.len() == 1)
                        .ok_or("--die-on-ins: one byte")?,
                );
            }
            "--die-after-apdus" => {
                die_after_apdus = Some(
                    value("--die-after-apdus")?
                        .parse()
                        .map_err(|_| "--die-after-apdus: not a number")?,
                )
            }
            "--verbose" | "-v" => verbose = true,
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if atr.len() < 2 || atr.len() > 33 {
        return Err("--atr: an ATR has 2 to 33 bytes".into());
    }
    Ok(Args {
        state: state.ok_or("--state DIR is required")?,
        host,
        port: port.ok_or("--port PORT is required")?,
        atr,
        serial,
        quickack,
        connect_timeout,
        die_on_ins,
        die_after_apdus,
        verbose,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("tokenconfirm-vcard: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(End::Closed) => ExitCode::SUCCESS,
        Ok(End::Removed) => ExitCode::from(3),
        Err(e) => {
            eprintln!("tokenconfirm-vcard: {e}");
            ExitCode::from(1)
        }
    }
}

/// Why the card loop ended.
enum End {
    /// vpcd closed the connection, or SIGTERM/SIGINT.
    Closed,
    /// `--die-on-ins` / `--die-after-apdus` fired: the connection was dropped mid-command.
    Removed,
}

fn connect(args: &Args) -> io::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = (args.host.as_str(), args.port).to_socket_addrs()?.collect();
    let deadline = Instant::now() + args.connect_timeout;
    loop {
        let mut last = None;
        for addr in &addrs {
            match TcpStream::connect_timeout(addr, Duration::from_secs(2)) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        if Instant::now() >= deadline {
            return Err(last.unwrap_or_else(|| io::Error::other("no address")));
        }
        // vpcd listens once pcscd has loaded the driver: wait for it.
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn run(args: &Args) -> Result<End, String> {
    std::fs::create_dir_all(&args.state).map_err(|e| format!("{}: {e}", args.state.display()))?;
    let stream = connect(args)
        .map_err(|e| format!("cannot connect to vpcd at {}:{}: {e}", args.host, args.port))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let socket = socket2::SockRef::from(&stream);
    if args.quickack {
        socket.set_quickack(true).map_err(|e| e.to_string())?;
    }
    // SIGTERM/SIGINT: shut the socket down; the read below then sees end-of-stream and the card
    // loop ends normally (flash writes are synchronous, nothing else to flush).
    let closer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ])
    .map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            let _ = closer.shutdown(Shutdown::Both);
        }
    });
    eprintln!(
        "tokenconfirm-vcard: card inserted (vpcd {}:{}, state {}, quickack {})",
        args.host,
        args.port,
        args.state.display(),
        if args.quickack { "on" } else { "off" }
    );
    let options = card_options(args.serial);
    platform::with_card(&args.state, options, |card| {
        serve(stream, args, &mut VirtualCard::new(card))
    })
    .map_err(|e| e.to_string())
}

fn card_options(serial: [u8; 4]) -> opcard::Options {
    let mut options = opcard::Options::default();
    // 0xFF00-0xFFFE: "randomly assigned" manufacturer range of the OpenPGP card spec.
    options.manufacturer = [0xFF, 0x00];
    options.serial = serial;
    // No touch button: signing never waits for user presence.
    options.button_available = false;
    options
}

/// Reads one vpcd message (length, then payload; vpcd sends them separately).
fn read_message(stream: &mut TcpStream, buf: &mut Vec<u8>, quickack: bool) -> io::Result<bool> {
    let mut len = [0u8; 2];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
        Err(e) => return Err(e),
    }
    rearm_quickack(stream, quickack);
    buf.resize(usize::from(u16::from_be_bytes(len)), 0);
    match stream.read_exact(buf) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
        Err(e) => return Err(e),
    }
    rearm_quickack(stream, quickack);
    Ok(true)
}

/// Linux turns quick ACK mode off again after a while; turning it on after every read keeps our
/// ACKs immediate, so vpcd's Nagle-delayed second segment goes out at once.
fn rearm_quickack(stream: &TcpStream, quickack: bool) {
    if quickack {
        let _ = socket2::SockRef::from(stream).set_quickack(true);
    }
}

/// The peer went away (vpcd closed, or our own SIGTERM handler shut the socket down).
fn closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

fn write_message(stream: &mut TcpStream, payload: &[u8]) -> io::Result<()> {
    let len = u16::try_from(payload.len()).map_err(|_| io::Error::other("response too long"))?;
    let mut msg = Vec::with_capacity(payload.len() + 2);
    msg.extend_from_slice(&len.to_be_bytes());
    msg.extend_from_slice(payload);
    stream.write_all(&msg)
}

/// Sends a reply; `false` when the peer is gone.
fn reply(stream: &mut TcpStream, payload: &[u8]) -> io::Result<bool> {
    match write_message(stream, payload) {
        Err(e) if closed(&e) => Ok(false),
        other => other.map(|()| true),
    }
}

fn serve<C: opcard::Client>(
    mut stream: TcpStream,
    args: &Args,
    card: &mut VirtualCard<C>,
) -> io::Result<End> {
    let mut buf = Vec::with_capacity(REQUEST_LEN + 16);
    let mut apdus: u64 = 0;
    loop {
        match read_message(&mut stream, &mut buf, args.quickack) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) if closed(&e) => break,
            Err(e) => return Err(e),
        }
        match buf.as_slice() {
            [0x00] => card.power_off(),
            [0x01] => {}
            [0x02] => card.reset(),
            [0x04] => {
                if !reply(&mut stream, &args.atr)? {
                    break;
                }
            }
            [other] => eprintln!("tokenconfirm-vcard: unknown vpcd control 0x{other:02X}"),
            apdu => {
                let ins = apdu.get(1).copied().unwrap_or(0);
                if args.die_on_ins == Some(ins) || args.die_after_apdus == Some(apdus) {
                    eprintln!(
                        "tokenconfirm-vcard: removed while handling APDU #{} (INS {ins:02X})",
                        apdus + 1
                    );
                    let _ = stream.shutdown(Shutdown::Both);
                    return Ok(End::Removed);
                }
                apdus += 1;
                let started = Instant::now();
                let response = card.execute(apdu);
                if args.verbose {
                    let sw = &response[response.len().saturating_sub(2)..];
                    eprintln!(
                        "tokenconfirm-vcard: #{apdus} INS {ins:02X} in {} out {} SW {:02X}{:02X} {:.1} ms",
                        apdu.len(),
                        response.len(),
                        sw.first().unwrap_or(&0),
                        sw.get(1).unwrap_or(&0),
                        started.elapsed().as_secs_f64() * 1e3
                    );
                }
                if !reply(&mut stream, &response)? {
                    break;
                }
            }
        }
    }
    eprintln!("tokenconfirm-vcard: connection closed after {apdus} APDUs, card out");
    Ok(End::Closed)
}

/// The card behind the reader: command chaining, GET RESPONSE, and opcard.
pub struct VirtualCard<C: opcard::Client> {
    card: opcard::Card<C>,
    /// A chained command being collected (CLA bit 0x10 set on all but the last part).
    chained: Option<Command<REQUEST_LEN>>,
    /// The last response and how much of it was sent (the rest goes out with GET RESPONSE).
    response: heapless::Vec<u8, RESPONSE_LEN>,
    sent: usize,
}

impl<C: opcard::Client> VirtualCard<C> {
    fn new(card: opcard::Card<C>) -> Self {
        VirtualCard {
            card,
            chained: None,
            response: heapless::Vec::new(),
            sent: 0,
        }
    }

    fn power_off(&mut self) {
        self.reset();
    }

    fn reset(&mut self) {
        self.chained = None;
        self.response.clear();
        self.sent = 0;
        self.card.reset();
    }

    fn execute(&mut self, apdu: &[u8]) -> Vec<u8> {
        let (data, status) = match self.process(apdu) {
            Ok(len) => {
                let data = self.response[self.sent..][..len].to_vec();
                self.sent += len;
                let rest = self.response.len() - self.sent;
                let status = if rest == 0 {
                    Status::Success
                } else {
                    Status::MoreAvailable(u8::try_from(rest).unwrap_or(0))
                };
                (data, status)
            }
            Err(status) => (Vec::new(), status),
        };
        let sw: [u8; 2] = status.into();
        let mut out = data;
        out.extend_from_slice(&sw);
        out
    }

    /// Runs the command (or takes the next part of a pending response); returns how many bytes
    /// of `self.response` to send now.
    fn process(&mut self, apdu: &[u8]) -> Result<usize, Status> {
        let command: Command<REQUEST_LEN> = Command::try_from(apdu).map_err(|e| {
            use iso7816::command::FromSliceError as E;
            match e {
                E::InvalidClass => Status::ClassNotSupported,
                E::InvalidFirstBodyByteForExtended => Status::UnspecifiedCheckingError,
                E::TooShort | E::TooLong | E::InvalidSliceLength => Status::WrongLength,
            }
        })?;
        if command.instruction() == iso7816::Instruction::GetResponse && self.chained.is_none() {
            let rest = self.response.len() - self.sent;
            return Ok(command.expected().min(rest));
        }
        let last = command.class().chain().last_or_only();
        let complete = match self.chained.take() {
            Some(mut first) => {
                first
                    .extend_from_command(&command)
                    .map_err(|_| Status::WrongLength)?;
                first
            }
            None => command,
        };
        if !last {
            self.chained = Some(complete);
            self.response.clear();
            self.sent = 0;
            return Ok(0);
        }
        self.response.clear();
        self.sent = 0;
        if let Err(status) = self
            .card
            .handle(complete.as_view(), self.response.as_mut_view())
        {
            self.response.clear();
            return Err(status);
        }
        Ok(complete.expected().min(self.response.len()))
    }
}
