//! Parser of the accredited-CA list published by Минцифры (the XML list of accredited
//! certification authorities, root element `АккредитованныеУдостоверяющиеЦентры`).
//!
//! The parser is a strict, single-pass state machine over the streaming
//! [`quick_xml::Reader`]; it never builds a DOM and never copies the document. It extracts,
//! per CA (`УдостоверяющийЦентр`), the name, ИНН, ОГРН, registry number, the current
//! accreditation status and every CA certificate found under
//! `ПрограммноАппаратныеКомплексы/ПрограммноАппаратныйКомплекс/КлючиУполномоченныхЛиц/Ключ`
//! together with the CRL distribution addresses of those keys.
//!
//! Strictness:
//! - the document must be well-formed XML 1.0 in UTF-8 (a UTF-8 byte-order mark is allowed,
//!   any other declared encoding is refused), without a DTD;
//! - the elements listed above must be present where required (a `ДанныеСертификата` without
//!   `Данные`, a CA without `ИНН`, … are errors), must not repeat, and must not contain text
//!   or child elements where none are expected;
//! - unknown elements (`Версия`-level metadata, addresses, `ИсторияСтатусаАккредитации`, …)
//!   are skipped together with their whole subtree;
//! - certificate data (`Данные`) must be valid standard base64; whitespace and line breaks
//!   inside it are ignored. The DER itself is *not* parsed here — path validation is done
//!   elsewhere; [`CaList::active_certificates`] only checks the outer DER `SEQUENCE` envelope.
//!
//! Every error names the line (1-based) — and for XML syntax errors the column, counted in
//! characters — and the element concerned. Positions are computed from byte offsets only when
//! an error is reported, so the success path does no line bookkeeping.

use std::path::Path;

use base64::Engine as _;
use quick_xml::events::{BytesDecl, BytesRef, Event};
use quick_xml::Reader;

/// Element names of the list (UTF-8 bytes, compared exactly).
mod names {
    pub const ROOT: &str = "АккредитованныеУдостоверяющиеЦентры";
    pub const VERSION: &str = "Версия";
    pub const DATE: &str = "Дата";
    pub const CA: &str = "УдостоверяющийЦентр";
    pub const CA_NAME: &str = "Название";
    pub const INN: &str = "ИНН";
    pub const OGRN: &str = "ОГРН";
    pub const REG_NO: &str = "РеестровыйНомер";
    pub const STATUS: &str = "СтатусАккредитации";
    pub const STATUS_VALUE: &str = "Статус";
    pub const STATUS_SINCE: &str = "ДействуетС";
    pub const PAKS: &str = "ПрограммноАппаратныеКомплексы";
    pub const PAK: &str = "ПрограммноАппаратныйКомплекс";
    pub const KEYS: &str = "КлючиУполномоченныхЛиц";
    pub const KEY: &str = "Ключ";
    pub const CRLS: &str = "АдресаСписковОтзыва";
    pub const CRL_ADDR: &str = "Адрес";
    pub const CERTS: &str = "Сертификаты";
    pub const CERT: &str = "ДанныеСертификата";
    pub const THUMBPRINT: &str = "Отпечаток";
    pub const SERIAL: &str = "СерийныйНомер";
    pub const VALID_FROM: &str = "ПериодДействияС";
    pub const VALID_TO: &str = "ПериодДействияДо";
    pub const DATA: &str = "Данные";
}

/// Status text of an active accreditation.
const STATUS_ACTIVE: &str = "Действует";
/// Status text of a terminated accreditation.
const STATUS_TERMINATED: &str = "Прекращена";
/// Status text of an annulled accreditation.
const STATUS_ANNULLED: &str = "Аннулирована";

/// Pseudo element name used in errors that concern the document as a whole.
const DOCUMENT: &str = "#document";
/// Pseudo element name used in errors about the XML declaration.
const DECLARATION: &str = "?xml";

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One accredited certification authority (`УдостоверяющийЦентр`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccreditedCa {
    /// `Название`, the full name of the CA operator.
    pub name: String,
    /// `ИНН`, taxpayer number.
    pub inn: String,
    /// `ОГРН`, state registration number.
    pub ogrn: String,
    /// `РеестровыйНомер`, number in the register of accredited CAs.
    pub registry_number: String,
    /// Current accreditation status (`СтатусАккредитации/Статус`).
    pub status: AccreditationStatus,
    /// `СтатусАккредитации/ДействуетС`, as written in the file.
    pub status_since: Option<String>,
    /// Certificates of the CA's authorised-person keys, in document order.
    pub certificates: Vec<CaCertificate>,
    /// CRL addresses of all keys of the CA (`АдресаСписковОтзыва/Адрес`), deduplicated, in
    /// document order.
    pub crl_urls: Vec<String>,
}

/// Accreditation status of a CA.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AccreditationStatus {
    /// `Действует`: the accreditation is in force.
    Active,
    /// `Прекращена`: the accreditation was terminated.
    Terminated,
    /// `Аннулирована`: the accreditation was annulled.
    Annulled,
    /// Any other status text, kept verbatim (never treated as active).
    Other(String),
}

impl AccreditationStatus {
    /// Maps the text of `Статус` (already trimmed) to a status.
    pub fn from_text(text: &str) -> Self {
        match text {
            STATUS_ACTIVE => Self::Active,
            STATUS_TERMINATED => Self::Terminated,
            STATUS_ANNULLED => Self::Annulled,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The status text as written in the list.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Active => STATUS_ACTIVE,
            Self::Terminated => STATUS_TERMINATED,
            Self::Annulled => STATUS_ANNULLED,
            Self::Other(text) => text,
        }
    }
}

impl std::fmt::Display for AccreditationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One CA certificate (`ДанныеСертификата`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaCertificate {
    /// Certificate bytes decoded from `Данные`; DER is not parsed by this module.
    pub der: Vec<u8>,
    /// `Отпечаток` (SHA-1 thumbprint, upper-case hex as in the file).
    pub thumbprint: String,
    /// `СерийныйНомер`, as written in the file.
    pub serial: String,
    /// `ПериодДействияС`, as written in the file.
    pub valid_from: Option<String>,
    /// `ПериодДействияДо`, as written in the file.
    pub valid_to: Option<String>,
}

/// The whole parsed list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaList {
    /// All CAs in document order, whatever their status.
    pub cas: Vec<AccreditedCa>,
    /// `Версия` of the list, if present.
    pub version: Option<String>,
    /// `Дата` of the list, if present.
    pub date: Option<String>,
}

/// Something that [`CaList::active_certificates`] did not load, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Registry number of the CA concerned.
    pub registry_number: String,
    /// Name of the CA concerned.
    pub name: String,
    /// Human-readable reason (status of the CA, or what is wrong with a certificate).
    pub reason: String,
}

/// Summary of what [`CaList::active_certificates`] loaded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoadReport {
    /// Number of CAs in the list.
    pub cas_total: usize,
    /// Number of CAs whose accreditation is in force.
    pub cas_active: usize,
    /// Number of certificates returned.
    pub certificates_loaded: usize,
    /// CAs not in force (one entry per CA) and certificates of active CAs that are not a
    /// DER `SEQUENCE` (one entry per certificate).
    pub skipped: Vec<Skipped>,
}

/// Error while reading the accredited-CA list.
#[derive(Debug, thiserror::Error)]
pub enum TslError {
    /// The document is not well-formed XML.
    #[error("malformed XML at line {line}, column {column} (element <{element}>): {detail}")]
    Xml {
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// Element concerned (the innermost open element, or `#document`).
        element: String,
        /// What is wrong.
        detail: String,
    },
    /// Well-formed XML that does not have the structure of the list.
    #[error("invalid CA list structure at line {line} (element <{element}>): {detail}")]
    Structure {
        /// 1-based line of the start tag of the element concerned.
        line: usize,
        /// Element concerned.
        element: String,
        /// What is wrong.
        detail: String,
    },
    /// `Данные` of a certificate is not valid base64.
    #[error("invalid base64 certificate data at line {line}: {detail}")]
    Base64 {
        /// 1-based line of the offending character (or of the `Данные` start tag).
        line: usize,
        /// What is wrong.
        detail: String,
    },
    /// The list could not be read.
    #[error("cannot read the CA list: {0}")]
    Io(#[from] std::io::Error),
}

impl TslError {
    /// Stable machine-readable code of the error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Xml { .. } => "tsl-xml",
            Self::Structure { .. } => "tsl-structure",
            Self::Base64 { .. } => "tsl-base64",
            Self::Io(_) => "io",
        }
    }
}

impl CaList {
    /// Certificates of CAs whose status is Active, plus the report of what was skipped and why.
    ///
    /// Certificates of active CAs whose bytes are not a single DER `SEQUENCE` (wrong tag,
    /// non-minimal or indefinite length, truncated, trailing bytes) are skipped and reported;
    /// nothing else about the DER is checked here.
    pub fn active_certificates(&self) -> (Vec<(&AccreditedCa, &CaCertificate)>, LoadReport) {
        let mut loaded = Vec::new();
        let mut report = LoadReport {
            cas_total: self.cas.len(),
            ..LoadReport::default()
        };
        for ca in &self.cas {
            if ca.status != AccreditationStatus::Active {
                let since = ca
                    .status_since
                    .as_deref()
                    .map(|s| format!(" since {s}"))
                    .unwrap_or_default();
                report.skipped.push(Skipped {
                    registry_number: ca.registry_number.clone(),
                    name: ca.name.clone(),
                    reason: format!(
                        "accreditation status \"{}\"{since}: {} certificate(s) not loaded",
                        ca.status,
                        ca.certificates.len()
                    ),
                });
                continue;
            }
            report.cas_active += 1;
            for cert in &ca.certificates {
                match check_der_sequence(&cert.der) {
                    Ok(()) => loaded.push((ca, cert)),
                    Err(why) => report.skipped.push(Skipped {
                        registry_number: ca.registry_number.clone(),
                        name: ca.name.clone(),
                        reason: format!(
                            "certificate {} (serial {}): not a DER certificate: {why}",
                            cert.thumbprint, cert.serial
                        ),
                    }),
                }
            }
        }
        report.certificates_loaded = loaded.len();
        (loaded, report)
    }
}

/// Reads and parses the list from a file.
pub fn parse_file(path: impl AsRef<Path>) -> Result<CaList, TslError> {
    let bytes = std::fs::read(path)?;
    parse(&bytes)
}

/// Parses the accredited-CA list (UTF-8 XML, optionally with a byte-order mark).
pub fn parse(xml: &[u8]) -> Result<CaList, TslError> {
    if xml.starts_with(b"\xFF\xFE") || xml.starts_with(b"\xFE\xFF") {
        return Err(TslError::Structure {
            line: 1,
            element: DOCUMENT.to_owned(),
            detail: "UTF-16 byte-order mark: only UTF-8 is supported".to_owned(),
        });
    }
    // Strip the BOM here so that reader offsets are offsets into `body`.
    let body = xml.strip_prefix(UTF8_BOM).unwrap_or(xml);
    let mut reader = Reader::from_reader(body);
    let mut parser = Parser::new(body);
    loop {
        let pos = reader.buffer_position();
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(err) => {
                return Err(parser.xml_error(reader.error_position(), err.to_string()));
            }
        };
        match event {
            Event::Start(start) => {
                parser.start(start.name().as_ref(), pos, reader.buffer_position())?;
            }
            Event::Empty(start) => {
                let end = reader.buffer_position();
                parser.start(start.name().as_ref(), pos, end)?;
                parser.end()?;
            }
            Event::End(_) => parser.end()?,
            Event::Text(text) => parser.text(&text, pos)?,
            Event::CData(data) => parser.text(&data, pos)?,
            Event::GeneralRef(reference) => parser.reference(&reference, pos)?,
            Event::Decl(decl) => parser.declaration(&decl, pos)?,
            Event::DocType(_) => {
                return Err(parser.structure_error(
                    pos,
                    DOCUMENT,
                    "a DOCTYPE is not allowed in the CA list".to_owned(),
                ));
            }
            Event::Comment(_) | Event::PI(_) => parser.seen_event = true,
            Event::Eof => break,
        }
    }
    parser.finish()
}

/// Where the parser is; one per open element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Root,
    Version,
    Date,
    Ca,
    CaName,
    Inn,
    Ogrn,
    RegNo,
    Status,
    StatusValue,
    StatusSince,
    Paks,
    Pak,
    Keys,
    Key,
    Crls,
    CrlAddr,
    Certs,
    Cert,
    Thumbprint,
    Serial,
    ValidFrom,
    ValidTo,
    Data,
    /// An unknown element or anything inside one: ignored with its subtree.
    Skip,
}

impl Kind {
    /// Elements whose text content is collected.
    fn is_leaf(self) -> bool {
        matches!(
            self,
            Kind::Version
                | Kind::Date
                | Kind::CaName
                | Kind::Inn
                | Kind::Ogrn
                | Kind::RegNo
                | Kind::StatusValue
                | Kind::StatusSince
                | Kind::CrlAddr
                | Kind::Thumbprint
                | Kind::Serial
                | Kind::ValidFrom
                | Kind::ValidTo
                | Kind::Data
        )
    }

    /// Element name of a known kind (`None` for [`Kind::Skip`]).
    fn name(self) -> Option<&'static str> {
        Some(match self {
            Kind::Root => names::ROOT,
            Kind::Version => names::VERSION,
            Kind::Date => names::DATE,
            Kind::Ca => names::CA,
            Kind::CaName => names::CA_NAME,
            Kind::Inn => names::INN,
            Kind::Ogrn => names::OGRN,
            Kind::RegNo => names::REG_NO,
            Kind::Status => names::STATUS,
            Kind::StatusValue => names::STATUS_VALUE,
            Kind::StatusSince => names::STATUS_SINCE,
            Kind::Paks => names::PAKS,
            Kind::Pak => names::PAK,
            Kind::Keys => names::KEYS,
            Kind::Key => names::KEY,
            Kind::Crls => names::CRLS,
            Kind::CrlAddr => names::CRL_ADDR,
            Kind::Certs => names::CERTS,
            Kind::Cert => names::CERT,
            Kind::Thumbprint => names::THUMBPRINT,
            Kind::Serial => names::SERIAL,
            Kind::ValidFrom => names::VALID_FROM,
            Kind::ValidTo => names::VALID_TO,
            Kind::Data => names::DATA,
            Kind::Skip => return None,
        })
    }
}

/// An open element: its kind and the byte offset of its `<`.
#[derive(Debug, Clone, Copy)]
struct Frame {
    kind: Kind,
    start: u64,
}

#[derive(Default)]
struct CaBuilder {
    start: u64,
    name: Option<String>,
    inn: Option<String>,
    ogrn: Option<String>,
    registry_number: Option<String>,
    status: Option<(AccreditationStatus, Option<String>)>,
    certificates: Vec<CaCertificate>,
    crl_urls: Vec<String>,
}

#[derive(Default)]
struct StatusBuilder {
    value: Option<String>,
    since: Option<String>,
}

#[derive(Default)]
struct CertBuilder {
    der: Option<Vec<u8>>,
    thumbprint: Option<String>,
    serial: Option<String>,
    valid_from: Option<String>,
    valid_to: Option<String>,
}

struct Parser<'a> {
    /// The document without its BOM; all offsets refer to it.
    body: &'a [u8],
    frames: Vec<Frame>,
    /// Any event other than whitespace text seen yet (the XML declaration must come first).
    seen_event: bool,
    root_seen: bool,
    root_done: bool,
    /// Text of the current leaf element.
    text: String,
    /// Base64 symbols of the current `Данные`, whitespace removed.
    b64: Vec<u8>,
    /// Offset just after the `Данные` start tag (to locate base64 errors).
    data_content_start: u64,
    list: CaList,
    ca: CaBuilder,
    status: StatusBuilder,
    cert: CertBuilder,
}

fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn trim_xml(text: &str) -> &str {
    text.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

/// 1-based line and column (in characters) of byte offset `pos` in `input`.
fn line_col(input: &[u8], pos: u64) -> (usize, usize) {
    let pos = usize::try_from(pos).unwrap_or(usize::MAX).min(input.len());
    let before = input.get(..pos).unwrap_or(input);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = 1 + before
        .get(line_start..)
        .unwrap_or_default()
        .iter()
        .filter(|&&b| (b & 0xC0) != 0x80)
        .count();
    (line, column)
}

/// Name of the element whose start tag begins (with `<`) at byte offset `pos`.
fn element_name_at(input: &[u8], pos: u64) -> String {
    let rest = usize::try_from(pos)
        .ok()
        .and_then(|p| p.checked_add(1))
        .and_then(|p| input.get(p..))
        .unwrap_or_default();
    let end = rest
        .iter()
        .position(|&b| is_xml_space(b) || b == b'>' || b == b'/')
        .unwrap_or(rest.len());
    String::from_utf8_lossy(rest.get(..end).unwrap_or_default()).into_owned()
}

/// Checks that `der` is exactly one DER `SEQUENCE` (tag and minimal definite length).
fn check_der_sequence(der: &[u8]) -> Result<(), String> {
    let (&tag, rest) = der.split_first().ok_or("empty")?;
    if tag != 0x30 {
        return Err(format!("starts with tag 0x{tag:02X}, not SEQUENCE"));
    }
    let (&first, rest) = rest.split_first().ok_or("truncated length")?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else if first == 0x80 {
        return Err("indefinite length".to_owned());
    } else {
        let n = usize::from(first & 0x7F);
        if n > 4 {
            return Err(format!("length of {n} bytes"));
        }
        let bytes = rest.get(..n).ok_or("truncated length")?;
        if bytes.first() == Some(&0) {
            return Err("non-minimal length".to_owned());
        }
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        if len < 0x80 {
            return Err("non-minimal length".to_owned());
        }
        (len, rest.get(n..).unwrap_or_default())
    };
    match rest.len().cmp(&len) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Less => Err(format!(
            "truncated: SEQUENCE of {len} bytes, {} present",
            rest.len()
        )),
        std::cmp::Ordering::Greater => Err(format!(
            "{} trailing byte(s) after the SEQUENCE",
            rest.len() - len
        )),
    }
}

/// Stores a leaf value, refusing a second occurrence of the same element.
fn set_once(
    slot: &mut Option<String>,
    value: String,
    body: &[u8],
    frame: Frame,
) -> Result<(), TslError> {
    if slot.is_some() {
        return Err(structure_error_at(
            body,
            frame.start,
            frame.kind.name().unwrap_or(DOCUMENT),
            "element occurs more than once".to_owned(),
        ));
    }
    *slot = Some(value);
    Ok(())
}

fn structure_error_at(body: &[u8], pos: u64, element: &str, detail: String) -> TslError {
    TslError::Structure {
        line: line_col(body, pos).0,
        element: element.to_owned(),
        detail,
    }
}

impl<'a> Parser<'a> {
    fn new(body: &'a [u8]) -> Self {
        Parser {
            body,
            frames: Vec::with_capacity(16),
            seen_event: false,
            root_seen: false,
            root_done: false,
            text: String::new(),
            b64: Vec::new(),
            data_content_start: 0,
            list: CaList::default(),
            ca: CaBuilder::default(),
            status: StatusBuilder::default(),
            cert: CertBuilder::default(),
        }
    }

    /// Name of the innermost open element, or `#document`.
    fn current_element(&self) -> String {
        match self.frames.last() {
            Some(frame) => match frame.kind.name() {
                Some(name) => name.to_owned(),
                None => element_name_at(self.body, frame.start),
            },
            None => DOCUMENT.to_owned(),
        }
    }

    fn xml_error(&self, pos: u64, detail: String) -> TslError {
        let (line, column) = line_col(self.body, pos);
        TslError::Xml {
            line,
            column,
            element: self.current_element(),
            detail,
        }
    }

    fn structure_error(&self, pos: u64, element: &str, detail: String) -> TslError {
        structure_error_at(self.body, pos, element, detail)
    }

    fn declaration(&mut self, decl: &BytesDecl<'_>, pos: u64) -> Result<(), TslError> {
        if self.seen_event {
            return Err(self.xml_error(
                pos,
                "XML declaration is allowed only at the start of the document".to_owned(),
            ));
        }
        self.seen_event = true;
        if let Err(err) = decl.version() {
            return Err(self.xml_error(pos, err.to_string()));
        }
        match decl.encoding() {
            None => Ok(()),
            Some(Err(err)) => Err(self.xml_error(pos, err.to_string())),
            Some(Ok(encoding)) => {
                if encoding.eq_ignore_ascii_case("utf-8") || encoding.eq_ignore_ascii_case("utf8") {
                    Ok(())
                } else {
                    Err(self.structure_error(
                        pos,
                        DECLARATION,
                        format!("declared encoding \"{encoding}\": only UTF-8 is supported"),
                    ))
                }
            }
        }
    }

    fn start(&mut self, name: &str, pos: u64, content_start: u64) -> Result<(), TslError> {
        self.seen_event = true;
        let kind = match self.frames.last().map(|f| f.kind) {
            None => {
                if self.root_done {
                    return Err(self.xml_error(
                        pos,
                        format!("second root element <{}> after the root element", name),
                    ));
                }
                if name != names::ROOT {
                    return Err(self.structure_error(
                        pos,
                        name,
                        format!("root element must be <{}>", names::ROOT),
                    ));
                }
                self.root_seen = true;
                Kind::Root
            }
            Some(Kind::Skip) => Kind::Skip,
            Some(Kind::Root) => match name {
                names::VERSION => Kind::Version,
                names::DATE => Kind::Date,
                names::CA => {
                    self.ca = CaBuilder {
                        start: pos,
                        ..CaBuilder::default()
                    };
                    Kind::Ca
                }
                _ => Kind::Skip,
            },
            Some(Kind::Ca) => match name {
                names::CA_NAME => Kind::CaName,
                names::INN => Kind::Inn,
                names::OGRN => Kind::Ogrn,
                names::REG_NO => Kind::RegNo,
                names::STATUS => {
                    if self.ca.status.is_some() {
                        return Err(self.structure_error(
                            pos,
                            names::STATUS,
                            "element occurs more than once".to_owned(),
                        ));
                    }
                    self.status = StatusBuilder::default();
                    Kind::Status
                }
                names::PAKS => Kind::Paks,
                _ => Kind::Skip,
            },
            Some(Kind::Status) => match name {
                names::STATUS_VALUE => Kind::StatusValue,
                names::STATUS_SINCE => Kind::StatusSince,
                _ => Kind::Skip,
            },
            Some(Kind::Paks) if name == names::PAK => Kind::Pak,
            Some(Kind::Pak) if name == names::KEYS => Kind::Keys,
            Some(Kind::Keys) if name == names::KEY => Kind::Key,
            Some(Kind::Key) => match name {
                names::CRLS => Kind::Crls,
                names::CERTS => Kind::Certs,
                _ => Kind::Skip,
            },
            Some(Kind::Crls) if name == names::CRL_ADDR => Kind::CrlAddr,
            Some(Kind::Certs) if name == names::CERT => {
                self.cert = CertBuilder::default();
                Kind::Cert
            }
            Some(Kind::Cert) => match name {
                names::THUMBPRINT => Kind::Thumbprint,
                names::SERIAL => Kind::Serial,
                names::VALID_FROM => Kind::ValidFrom,
                names::VALID_TO => Kind::ValidTo,
                names::DATA => {
                    self.b64.clear();
                    self.data_content_start = content_start;
                    Kind::Data
                }
                _ => Kind::Skip,
            },
            Some(Kind::Paks | Kind::Pak | Kind::Keys | Kind::Crls | Kind::Certs) => Kind::Skip,
            Some(leaf) => {
                return Err(self.structure_error(
                    pos,
                    leaf.name().unwrap_or(DOCUMENT),
                    format!("unexpected child element <{}> in a text-only element", name),
                ));
            }
        };
        if kind.is_leaf() {
            self.text.clear();
        }
        self.frames.push(Frame { kind, start: pos });
        Ok(())
    }

    /// Character data (text or CDATA) at offset `pos`.
    fn text(&mut self, text: &str, pos: u64) -> Result<(), TslError> {
        match self.frames.last().map(|f| f.kind) {
            Some(Kind::Skip) => Ok(()),
            Some(Kind::Data) => {
                // Copy runs between whitespace bytes in bulk (lines are typically 76 symbols).
                let mut rest = text.as_bytes();
                while !rest.is_empty() {
                    let run = rest
                        .iter()
                        .position(|&b| is_xml_space(b))
                        .unwrap_or(rest.len());
                    let (symbols, tail) = rest.split_at(run);
                    self.b64.extend_from_slice(symbols);
                    let skip = tail.iter().take_while(|&&b| is_xml_space(b)).count();
                    rest = tail.get(skip..).unwrap_or_default();
                }
                Ok(())
            }
            Some(kind) if kind.is_leaf() => {
                // XML 1.0 end-of-line handling: CR LF and lone CR become LF.
                if text.as_bytes().contains(&b'\r') {
                    self.text
                        .push_str(&text.replace("\r\n", "\n").replace('\r', "\n"));
                } else {
                    self.text.push_str(text);
                }
                Ok(())
            }
            Some(kind) => match text.bytes().position(|b| !is_xml_space(b)) {
                None => Ok(()),
                Some(i) => Err(self.structure_error(
                    pos + i as u64,
                    kind.name().unwrap_or(DOCUMENT),
                    "unexpected text in an element that holds only elements".to_owned(),
                )),
            },
            None => match text.bytes().position(|b| !is_xml_space(b)) {
                None => Ok(()),
                Some(i) => {
                    let where_ = if self.root_done { "after" } else { "before" };
                    Err(self.xml_error(pos + i as u64, format!("text {where_} the root element")))
                }
            },
        }
    }

    /// An entity or character reference (`&…;`) at offset `pos`.
    fn reference(&mut self, reference: &BytesRef<'_>, pos: u64) -> Result<(), TslError> {
        let ch = match reference.resolve_char_ref() {
            Ok(Some(ch)) => ch,
            Ok(None) => match &**reference {
                "lt" => '<',
                "gt" => '>',
                "amp" => '&',
                "apos" => '\'',
                "quot" => '"',
                other => {
                    return Err(self.xml_error(pos, format!("unknown entity &{other};")));
                }
            },
            Err(err) => {
                return Err(self.xml_error(
                    pos,
                    format!("bad character reference &{};: {err}", &**reference),
                ));
            }
        };
        let mut buf = [0u8; 4];
        self.text(ch.encode_utf8(&mut buf), pos)
    }

    fn end(&mut self) -> Result<(), TslError> {
        let Some(frame) = self.frames.pop() else {
            // quick-xml refuses unmatched end tags; keep a defined answer anyway.
            return Err(self.xml_error(0, "end tag without a start tag".to_owned()));
        };
        let body = self.body;
        let value = if frame.kind.is_leaf() && frame.kind != Kind::Data {
            trim_xml(&self.text).to_owned()
        } else {
            String::new()
        };
        match frame.kind {
            Kind::Root => self.root_done = true,
            Kind::Version => set_once(&mut self.list.version, value, body, frame)?,
            Kind::Date => set_once(&mut self.list.date, value, body, frame)?,
            Kind::CaName => set_once(&mut self.ca.name, value, body, frame)?,
            Kind::Inn => set_once(&mut self.ca.inn, value, body, frame)?,
            Kind::Ogrn => set_once(&mut self.ca.ogrn, value, body, frame)?,
            Kind::RegNo => {
                set_once(&mut self.ca.registry_number, value, body, frame)?;
            }
            Kind::StatusValue => {
                set_once(&mut self.status.value, value, body, frame)?;
            }
            Kind::StatusSince => {
                set_once(&mut self.status.since, value, body, frame)?;
            }
            Kind::Thumbprint => {
                set_once(&mut self.cert.thumbprint, value, body, frame)?;
            }
            Kind::Serial => set_once(&mut self.cert.serial, value, body, frame)?,
            Kind::ValidFrom => {
                set_once(&mut self.cert.valid_from, value, body, frame)?;
            }
            Kind::ValidTo => set_once(&mut self.cert.valid_to, value, body, frame)?,
            Kind::CrlAddr => {
                if !value.is_empty() && !self.ca.crl_urls.contains(&value) {
                    self.ca.crl_urls.push(value);
                }
            }
            Kind::Data => {
                if self.cert.der.is_some() {
                    return Err(self.structure_error(
                        frame.start,
                        names::DATA,
                        "element occurs more than once".to_owned(),
                    ));
                }
                let der = base64::engine::general_purpose::STANDARD
                    .decode(&self.b64)
                    .map_err(|err| self.base64_error(frame.start, &err))?;
                self.cert.der = Some(der);
            }
            Kind::Status => {
                let status = std::mem::take(&mut self.status);
                let Some(value) = status.value else {
                    return Err(self.structure_error(
                        frame.start,
                        names::STATUS,
                        format!("missing <{}>", names::STATUS_VALUE),
                    ));
                };
                self.ca.status = Some((AccreditationStatus::from_text(&value), status.since));
            }
            Kind::Cert => {
                let cert = std::mem::take(&mut self.cert);
                let missing = if cert.thumbprint.is_none() {
                    Some(names::THUMBPRINT)
                } else if cert.serial.is_none() {
                    Some(names::SERIAL)
                } else if cert.der.is_none() {
                    Some(names::DATA)
                } else {
                    None
                };
                match (cert.thumbprint, cert.serial, cert.der) {
                    (Some(thumbprint), Some(serial), Some(der)) => {
                        self.ca.certificates.push(CaCertificate {
                            der,
                            thumbprint,
                            serial,
                            valid_from: cert.valid_from,
                            valid_to: cert.valid_to,
                        });
                    }
                    _ => {
                        return Err(self.structure_error(
                            frame.start,
                            names::CERT,
                            format!("missing <{}>", missing.unwrap_or(names::DATA)),
                        ));
                    }
                }
            }
            Kind::Ca => {
                let ca = std::mem::take(&mut self.ca);
                let missing = [
                    (ca.name.is_none(), names::CA_NAME),
                    (ca.inn.is_none(), names::INN),
                    (ca.ogrn.is_none(), names::OGRN),
                    (ca.registry_number.is_none(), names::REG_NO),
                    (ca.status.is_none(), names::STATUS),
                ]
                .iter()
                .find(|(absent, _)| *absent)
                .map(|(_, name)| *name);
                match (ca.name, ca.inn, ca.ogrn, ca.registry_number, ca.status) {
                    (
                        Some(name),
                        Some(inn),
                        Some(ogrn),
                        Some(registry_number),
                        Some((status, status_since)),
                    ) => self.list.cas.push(AccreditedCa {
                        name,
                        inn,
                        ogrn,
                        registry_number,
                        status,
                        status_since,
                        certificates: ca.certificates,
                        crl_urls: ca.crl_urls,
                    }),
                    (name, _, _, registry_number, _) => {
                        let which = match (registry_number, name) {
                            (Some(n), _) => format!(" (registry number {n})"),
                            (None, Some(n)) => format!(" (\"{n}\")"),
                            (None, None) => String::new(),
                        };
                        return Err(self.structure_error(
                            ca.start,
                            names::CA,
                            format!("missing <{}>{which}", missing.unwrap_or(names::CA_NAME)),
                        ));
                    }
                }
            }
            Kind::Paks
            | Kind::Pak
            | Kind::Keys
            | Kind::Key
            | Kind::Crls
            | Kind::Certs
            | Kind::Skip => {}
        }
        Ok(())
    }

    fn base64_error(&self, data_start: u64, err: &base64::DecodeError) -> TslError {
        let index = match *err {
            base64::DecodeError::InvalidByte(i, _)
            | base64::DecodeError::InvalidLastSymbol(i, _) => Some(i),
            base64::DecodeError::InvalidLength(_) | base64::DecodeError::InvalidPadding => None,
        };
        // Map the index among the non-whitespace symbols back to a byte offset in the body,
        // as long as the content is plain text (no markup or references in between).
        let pos = index
            .and_then(|index| {
                let start = usize::try_from(self.data_content_start).ok()?;
                let content = self.body.get(start..)?;
                let mut seen = 0usize;
                for (offset, &b) in content.iter().enumerate() {
                    if b == b'<' || b == b'&' {
                        return None;
                    }
                    if !is_xml_space(b) {
                        if seen == index {
                            return Some((start + offset) as u64);
                        }
                        seen += 1;
                    }
                }
                None
            })
            .unwrap_or(data_start);
        let whose = self
            .cert
            .thumbprint
            .as_deref()
            .map(|t| format!("certificate {t}: "))
            .unwrap_or_default();
        TslError::Base64 {
            line: line_col(self.body, pos).0,
            detail: format!("{whose}<{}>: {err}", names::DATA),
        }
    }

    fn finish(self) -> Result<CaList, TslError> {
        if let Some(frame) = self.frames.last() {
            let element = match frame.kind.name() {
                Some(name) => name.to_owned(),
                None => element_name_at(self.body, frame.start),
            };
            let (line, column) = line_col(self.body, frame.start);
            let (eof_line, _) = line_col(self.body, self.body.len() as u64);
            return Err(TslError::Xml {
                line,
                column,
                element,
                detail: format!(
                    "element is not closed: end of document reached at line {eof_line}"
                ),
            });
        }
        if !self.root_seen {
            return Err(TslError::Structure {
                line: line_col(self.body, self.body.len() as u64).0,
                element: DOCUMENT.to_owned(),
                detail: format!("no root element <{}>", names::ROOT),
            });
        }
        Ok(self.list)
    }
}

/// Deterministic generator of synthetic lists in the real element set and order, for tests
/// and benchmarks. The certificates are random bytes inside a DER `SEQUENCE` envelope, not
/// real certificates.
pub mod testdata {
    use base64::Engine as _;

    /// Small deterministic pseudo-random generator (xorshift64*).
    #[derive(Debug, Clone)]
    pub struct Rng(u64);

    impl Rng {
        /// A generator seeded with `seed` (0 is replaced by a fixed non-zero constant).
        pub fn new(seed: u64) -> Self {
            Rng(if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            })
        }

        /// Next pseudo-random 64-bit value.
        pub fn next_u64(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        /// Fills `out` with pseudo-random bytes.
        pub fn fill(&mut self, out: &mut [u8]) {
            for chunk in out.chunks_mut(8) {
                let v = self.next_u64().to_le_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
        }

        /// `n` pseudo-random bytes as upper-case hex.
        pub fn hex(&mut self, n: usize) -> String {
            let mut bytes = vec![0u8; n];
            self.fill(&mut bytes);
            bytes.iter().map(|b| format!("{b:02X}")).collect()
        }
    }

    /// `len` bytes (at least 4 and below 65 540) forming one DER `SEQUENCE` with a two-byte
    /// length and random content.
    pub fn der_like(rng: &mut Rng, len: usize) -> Vec<u8> {
        let content = len.clamp(4 + 128, 0xFFFF + 4) - 4;
        let mut der = vec![0u8; content + 4];
        der[0] = 0x30;
        der[1] = 0x82;
        der[2] = (content >> 8) as u8;
        der[3] = (content & 0xFF) as u8;
        rng.fill(&mut der[4..]);
        der
    }

    /// Standard base64 of `bytes` with a line break (`\n`) every 76 characters.
    pub fn base64_lines(bytes: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        let mut out = String::with_capacity(b64.len() + b64.len() / 76 + 2);
        for (i, chunk) in b64.as_bytes().chunks(76).enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&String::from_utf8_lossy(chunk));
        }
        out
    }

    /// Shape of a synthetic list.
    #[derive(Debug, Clone)]
    pub struct Spec {
        /// Number of CAs.
        pub cas: usize,
        /// Certificates per CA (spread over keys holding two certificates each).
        pub certs_per_ca: usize,
        /// DER size of each certificate in bytes.
        pub cert_len: usize,
        /// Seed of the random content.
        pub seed: u64,
    }

    /// A generated list and what a parser must find in it.
    #[derive(Debug, Clone)]
    pub struct Synthetic {
        /// The XML document.
        pub xml: String,
        /// CAs whose status is `Действует`.
        pub cas_active: usize,
        /// Certificates of all CAs.
        pub certificates_total: usize,
        /// Certificates of active CAs.
        pub certificates_active: usize,
    }

    /// Status of CA number `i`: 70 % active, 20 % terminated, 10 % annulled.
    pub fn status_of(i: usize) -> &'static str {
        match i % 10 {
            7 | 8 => super::STATUS_TERMINATED,
            9 => super::STATUS_ANNULLED,
            _ => super::STATUS_ACTIVE,
        }
    }

    /// Generates a list in the element set and order of the real file, including elements
    /// the parser ignores, with CRLF-free `\n` line breaks and two-space indentation.
    pub fn synthetic(spec: &Spec) -> Synthetic {
        let mut rng = Rng::new(spec.seed);
        let per_cert = spec.cert_len * 4 / 3 + 1200;
        let mut xml =
            String::with_capacity(1024 + spec.cas * (3000 + spec.certs_per_ca * per_cert));
        let mut cas_active = 0;
        let mut certificates_active = 0;
        xml.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        xml.push_str("<АккредитованныеУдостоверяющиеЦентры xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">\n");
        xml.push_str("  <Версия>1427</Версия>\n  <Дата>2025-03-14T09:30:00</Дата>\n");
        for i in 0..spec.cas {
            let status = status_of(i);
            if status == super::STATUS_ACTIVE {
                cas_active += 1;
                certificates_active += spec.certs_per_ca;
            }
            let host = format!("ca{i}.example.ru");
            xml.push_str("  <УдостоверяющийЦентр>\n");
            xml.push_str(&format!(
                "    <Название>ООО &quot;Удостоверяющий центр №{i}&quot;</Название>\n"
            ));
            xml.push_str(&format!(
                "    <ЭлектроннаяПочта>info@{host}</ЭлектроннаяПочта>\n"
            ));
            xml.push_str(&format!("    <КраткоеНазвание>УЦ {i}</КраткоеНазвание>\n"));
            xml.push_str(&format!(
                "    <АдресСИнтернет>https://{host}</АдресСИнтернет>\n"
            ));
            xml.push_str(&format!(
                "    <ОГРН>1{:012}</ОГРН>\n",
                770_000_000_000u64 + i as u64
            ));
            xml.push_str(&format!(
                "    <ИНН>{:010}</ИНН>\n",
                7_700_000_000u64 + i as u64
            ));
            xml.push_str(&format!(
                "    <Адрес>\n      <Индекс>101000</Индекс>\n      <Страна>RU</Страна>\n      <Регион>\n        <Код>77</Код>\n        <Название>г. Москва</Название>\n      </Регион>\n      <Город>Москва</Город>\n      <УлицаДом>ул. Тверская, д. {}</УлицаДом>\n    </Адрес>\n",
                i % 200 + 1
            ));
            xml.push_str(
                "    <ПрограммноАппаратныеКомплексы>\n      <ПрограммноАппаратныйКомплекс>\n",
            );
            xml.push_str(&format!("        <Псевдоним>ПАК УЦ {i}</Псевдоним>\n"));
            xml.push_str("        <КлассСредствЭП>КС1</КлассСредствЭП>\n");
            xml.push_str(&format!(
                "        <Адрес>\n          <Индекс>101000</Индекс>\n          <Страна>RU</Страна>\n          <Город>Москва</Город>\n          <УлицаДом>ул. Тверская, д. {}</УлицаДом>\n        </Адрес>\n",
                i % 200 + 1
            ));
            xml.push_str("        <СредстваУЦ>ПАК «КриптоПро УЦ» версии 2.0</СредстваУЦ>\n");
            xml.push_str("        <КлючиУполномоченныхЛиц>\n");
            let mut remaining = spec.certs_per_ca;
            let mut key = 0;
            while remaining > 0 {
                let in_key = remaining.min(2);
                remaining -= in_key;
                xml.push_str("          <Ключ>\n");
                xml.push_str(&format!(
                    "            <ИдентификаторКлюча>{}</ИдентификаторКлюча>\n",
                    rng.hex(20)
                ));
                xml.push_str(&format!(
                    "            <АдресаСписковОтзыва>\n              <Адрес>http://{host}/cdp/key{key}.crl</Адрес>\n              <Адрес>http://cdp.{host}/key{key}.crl</Адрес>\n            </АдресаСписковОтзыва>\n"
                ));
                xml.push_str("            <Сертификаты>\n");
                for c in 0..in_key {
                    let der = der_like(&mut rng, spec.cert_len);
                    xml.push_str("              <ДанныеСертификата>\n");
                    xml.push_str(&format!(
                        "                <Отпечаток>{}</Отпечаток>\n",
                        rng.hex(20)
                    ));
                    xml.push_str(&format!(
                        "                <КемВыдан>CN=Минцифры России, O=Минцифры России, C=RU</КемВыдан>\n                <КомуВыдан>CN=ООО &quot;Удостоверяющий центр №{i}&quot;, C=RU</КомуВыдан>\n"
                    ));
                    xml.push_str(&format!(
                        "                <СерийныйНомер>{}</СерийныйНомер>\n",
                        rng.hex(17)
                    ));
                    xml.push_str(&format!(
                        "                <ПериодДействияС>20{:02}-0{}-1{}T10:00:00</ПериодДействияС>\n                <ПериодДействияДо>20{:02}-0{}-1{}T10:00:00</ПериодДействияДо>\n",
                        21 + c,
                        key % 9 + 1,
                        c,
                        36 + c,
                        key % 9 + 1,
                        c
                    ));
                    xml.push_str("                <Данные>");
                    xml.push_str(&base64_lines(&der));
                    xml.push_str("</Данные>\n");
                    xml.push_str("              </ДанныеСертификата>\n");
                }
                xml.push_str("            </Сертификаты>\n          </Ключ>\n");
                key += 1;
            }
            xml.push_str("        </КлючиУполномоченныхЛиц>\n      </ПрограммноАппаратныйКомплекс>\n    </ПрограммноАппаратныеКомплексы>\n");
            xml.push_str(&format!(
                "    <РеестровыйНомер>{}</РеестровыйНомер>\n",
                100 + i
            ));
            xml.push_str(&format!(
                "    <СтатусАккредитации>\n      <Статус>{status}</Статус>\n      <ДействуетС>2021-07-0{}T00:00:00</ДействуетС>\n    </СтатусАккредитации>\n",
                i % 9 + 1
            ));
            xml.push_str("    <ИсторияСтатусаАккредитации>\n      <СтатусАккредитации>\n        <Статус>Действует</Статус>\n        <ДействуетС>2019-01-01T00:00:00</ДействуетС>\n      </СтатусАккредитации>\n    </ИсторияСтатусаАккредитации>\n");
            xml.push_str("  </УдостоверяющийЦентр>\n");
        }
        xml.push_str("</АккредитованныеУдостоверяющиеЦентры>\n");
        Synthetic {
            xml,
            cas_active,
            certificates_total: spec.cas * spec.certs_per_ca,
            certificates_active,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_lines_and_characters() {
        let text = "ab\nвгд\ne".as_bytes();
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 2), (1, 3));
        assert_eq!(line_col(text, 3), (2, 1));
        // After "вг" (4 bytes): column 3.
        assert_eq!(line_col(text, 7), (2, 3));
        assert_eq!(line_col(text, 10), (3, 1));
        assert_eq!(line_col(text, 10_000), (3, 2));
    }

    #[test]
    fn element_name_is_read_from_the_start_tag() {
        let text = "x <Ключ attr=\"1\">".as_bytes();
        assert_eq!(element_name_at(text, 2), "Ключ");
        assert_eq!(element_name_at(b"<a/>", 0), "a");
        assert_eq!(element_name_at(b"<a", 5), "");
    }

    #[test]
    fn der_envelope_check() {
        assert!(check_der_sequence(&[0x30, 0x00]).is_ok());
        assert!(check_der_sequence(&[0x30, 0x02, 1, 2]).is_ok());
        assert!(check_der_sequence(&[]).is_err());
        assert!(check_der_sequence(&[0x31, 0x00]).is_err());
        assert!(check_der_sequence(&[0x30, 0x80, 0, 0]).is_err());
        assert!(check_der_sequence(&[0x30, 0x81, 0x05, 1, 2, 3, 4, 5]).is_err()); // non-minimal
        assert!(check_der_sequence(&[0x30, 0x03, 1, 2]).is_err()); // truncated
        assert!(check_der_sequence(&[0x30, 0x01, 1, 2]).is_err()); // trailing
        let mut rng = testdata::Rng::new(7);
        assert!(check_der_sequence(&testdata::der_like(&mut rng, 1300)).is_ok());
    }

    #[test]
    fn status_text_round_trips() {
        for text in ["Действует", "Прекращена", "Аннулирована", "Приостановлена"]
        {
            assert_eq!(AccreditationStatus::from_text(text).as_str(), text);
        }
        assert_eq!(
            AccreditationStatus::from_text("Действует"),
            AccreditationStatus::Active
        );
    }

    #[test]
    fn references_are_resolved_in_text() {
        let xml = "<АккредитованныеУдостоверяющиеЦентры><Версия>&#49;&#x32;&lt;&amp;&gt;&quot;&apos;</Версия></АккредитованныеУдостоверяющиеЦентры>";
        let list = parse(xml.as_bytes()).map_err(|e| e.to_string());
        assert_eq!(list.map(|l| l.version), Ok(Some("12<&>\"'".to_owned())));
    }

    #[test]
    fn synthetic_list_parses() {
        let spec = testdata::Spec {
            cas: 20,
            certs_per_ca: 3,
            cert_len: 1300,
            seed: 1,
        };
        let generated = testdata::synthetic(&spec);
        let list = match parse(generated.xml.as_bytes()) {
            Ok(list) => list,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(list.cas.len(), 20);
        let (certs, report) = list.active_certificates();
        assert_eq!(report.cas_active, generated.cas_active);
        assert_eq!(certs.len(), generated.certificates_active);
        assert!(certs.iter().all(|(_, c)| c.der.len() == 1300));
        assert_eq!(list.cas[0].crl_urls.len(), 4);
        assert_eq!(list.cas[0].name, "ООО \"Удостоверяющий центр №0\"");
    }
}
