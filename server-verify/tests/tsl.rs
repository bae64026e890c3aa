//! Tests of the accredited-CA list parser against a small realistic list and malformed
//! variants of it.

use tokenconfirm_verify::tsl::{self, testdata, AccreditationStatus, TslError};

/// A list in the element names and order of the real Минцифры file: three CAs, the first
/// active with two certificates (one per key, the second with line-wrapped base64), the second
/// terminated, the third annulled.
const SAMPLE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<АккредитованныеУдостоверяющиеЦентры xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <Версия>1427</Версия>
  <Дата>2025-03-14T09:30:00</Дата>
  <УдостоверяющийЦентр>
    <Название>АО &quot;Аналитический Центр&quot;</Название>
    <ЭлектроннаяПочта>ca@ac.example.ru</ЭлектроннаяПочта>
    <КраткоеНазвание>АО "АЦ"</КраткоеНазвание>
    <АдресСИнтернет>https://ac.example.ru</АдресСИнтернет>
    <ОГРН>1027700000001</ОГРН>
    <ИНН>7700000001</ИНН>
    <Адрес>
      <Индекс>101000</Индекс>
      <Страна>RU</Страна>
      <Регион>
        <Код>77</Код>
        <Название>г. Москва</Название>
      </Регион>
      <Город>Москва</Город>
      <УлицаДом>ул. Тверская, д. 1</УлицаДом>
    </Адрес>
    <ПрограммноАппаратныеКомплексы>
      <ПрограммноАппаратныйКомплекс>
        <Псевдоним>УЦ АЦ</Псевдоним>
        <КлассСредствЭП>КС1</КлассСредствЭП>
        <Адрес>
          <Индекс>101000</Индекс>
          <Страна>RU</Страна>
          <Город>Москва</Город>
          <УлицаДом>ул. Тверская, д. 1</УлицаДом>
        </Адрес>
        <СредстваУЦ>ПАК «КриптоПро УЦ» версии 2.0</СредстваУЦ>
        <КлючиУполномоченныхЛиц>
          <Ключ>
            <ИдентификаторКлюча>0A1B2C3D4E5F60718293A4B5C6D7E8F901234567</ИдентификаторКлюча>
            <АдресаСписковОтзыва>
              <Адрес>http://ac.example.ru/cdp/ac2021.crl</Адрес>
              <Адрес>http://cdp.example.ru/ac2021.crl</Адрес>
            </АдресаСписковОтзыва>
            <Сертификаты>
              <ДанныеСертификата>
                <Отпечаток>A1B2C3D4E5F60718293A4B5C6D7E8F9012345678</Отпечаток>
                <КемВыдан>CN=Минцифры России, O=Минцифры России, C=RU</КемВыдан>
                <КомуВыдан>CN=АО &quot;Аналитический Центр&quot;, C=RU</КомуВыдан>
                <СерийныйНомер>00EA1B2C3D00000000000A</СерийныйНомер>
                <ПериодДействияС>2021-06-01T10:00:00</ПериодДействияС>
                <ПериодДействияДо>2036-06-01T10:00:00</ПериодДействияДо>
                <Данные>MAoCAQEEBWhlbGxv</Данные>
              </ДанныеСертификата>
            </Сертификаты>
          </Ключ>
          <Ключ>
            <ИдентификаторКлюча>1122334455667788990011223344556677889900</ИдентификаторКлюча>
            <АдресаСписковОтзыва>
              <Адрес>http://ac.example.ru/cdp/ac2021.crl</Адрес>
              <Адрес>http://ac.example.ru/cdp/ac2024.crl</Адрес>
            </АдресаСписковОтзыва>
            <Сертификаты>
              <ДанныеСертификата>
                <Отпечаток>B2C3D4E5F60718293A4B5C6D7E8F901234567890</Отпечаток>
                <КемВыдан>CN=Минцифры России, O=Минцифры России, C=RU</КемВыдан>
                <КомуВыдан>CN=АО &quot;Аналитический Центр&quot;, C=RU</КомуВыдан>
                <СерийныйНомер>00EA1B2C3D00000000000B</СерийныйНомер>
                <ПериодДействияС>2024-02-01T10:00:00</ПериодДействияС>
                <ПериодДействияДо>2039-02-01T10:00:00</ПериодДействияДо>
                <Данные>MIGdAwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dzj6vH4/wYNFBsiKTA3PkVMU1phaG92
fYSLkpmgp661vMPK0djf5u30+wIJEBceJSwzOkFIT1ZdZGtyeYCHjpWco6qxuL/GzdTb4unw9/4F
DBMaISgvNj1ES1JZYGdudXyDipGYn6attLvCydDX3uXs8/oBCA8WHSQrMjlARw==</Данные>
              </ДанныеСертификата>
            </Сертификаты>
          </Ключ>
        </КлючиУполномоченныхЛиц>
      </ПрограммноАппаратныйКомплекс>
    </ПрограммноАппаратныеКомплексы>
    <РеестровыйНомер>1</РеестровыйНомер>
    <СтатусАккредитации>
      <Статус>Действует</Статус>
      <ДействуетС>2021-07-01T00:00:00</ДействуетС>
    </СтатусАккредитации>
    <ИсторияСтатусаАккредитации>
      <СтатусАккредитации>
        <Статус>Прекращена</Статус>
        <ДействуетС>2019-01-01T00:00:00</ДействуетС>
      </СтатусАккредитации>
    </ИсторияСтатусаАккредитации>
  </УдостоверяющийЦентр>
  <УдостоверяющийЦентр>
    <Название>ООО &quot;Закрытый УЦ&quot;</Название>
    <ЭлектроннаяПочта>info@closed.example.ru</ЭлектроннаяПочта>
    <КраткоеНазвание>ООО "ЗУЦ"</КраткоеНазвание>
    <АдресСИнтернет>https://closed.example.ru</АдресСИнтернет>
    <ОГРН>1157700000002</ОГРН>
    <ИНН>7700000002</ИНН>
    <ПрограммноАппаратныеКомплексы>
      <ПрограммноАппаратныйКомплекс>
        <Псевдоним>ЗУЦ</Псевдоним>
        <КлассСредствЭП>КС2</КлассСредствЭП>
        <КлючиУполномоченныхЛиц>
          <Ключ>
            <ИдентификаторКлюча>2233445566778899001122334455667788990011</ИдентификаторКлюча>
            <АдресаСписковОтзыва>
              <Адрес>http://closed.example.ru/cdp/zuc.crl</Адрес>
            </АдресаСписковОтзыва>
            <Сертификаты>
              <ДанныеСертификата>
                <Отпечаток>C3D4E5F60718293A4B5C6D7E8F90123456789012</Отпечаток>
                <КемВыдан>CN=Минцифры России, O=Минцифры России, C=RU</КемВыдан>
                <КомуВыдан>CN=ООО &quot;Закрытый УЦ&quot;, C=RU</КомуВыдан>
                <СерийныйНомер>00EA1B2C3D00000000000C</СерийныйНомер>
                <ПериодДействияС>2021-03-01T10:00:00</ПериодДействияС>
                <ПериодДействияДо>2036-03-01T10:00:00</ПериодДействияДо>
                <Данные>MAsCAQMEBmNsb3NlZA==</Данные>
              </ДанныеСертификата>
            </Сертификаты>
          </Ключ>
        </КлючиУполномоченныхЛиц>
      </ПрограммноАппаратныйКомплекс>
    </ПрограммноАппаратныеКомплексы>
    <РеестровыйНомер>2</РеестровыйНомер>
    <СтатусАккредитации>
      <Статус>Прекращена</Статус>
      <ДействуетС>2022-01-01T00:00:00</ДействуетС>
    </СтатусАккредитации>
  </УдостоверяющийЦентр>
  <УдостоверяющийЦентр>
    <Название>ООО &quot;Аннулированный УЦ&quot;</Название>
    <ОГРН>1187700000003</ОГРН>
    <ИНН>7700000003</ИНН>
    <ПрограммноАппаратныеКомплексы>
      <ПрограммноАппаратныйКомплекс>
        <КлючиУполномоченныхЛиц>
          <Ключ>
            <Сертификаты>
              <ДанныеСертификата>
                <Отпечаток>D4E5F60718293A4B5C6D7E8F9012345678901234</Отпечаток>
                <СерийныйНомер>00EA1B2C3D00000000000D</СерийныйНомер>
                <ПериодДействияС>2021-09-01T10:00:00</ПериодДействияС>
                <ПериодДействияДо>2036-09-01T10:00:00</ПериодДействияДо>
                <Данные>MAsCAQQEBnZvaWRlZA==</Данные>
              </ДанныеСертификата>
            </Сертификаты>
          </Ключ>
        </КлючиУполномоченныхЛиц>
      </ПрограммноАппаратныйКомплекс>
    </ПрограммноАппаратныеКомплексы>
    <РеестровыйНомер>3</РеестровыйНомер>
    <СтатусАккредитации>
      <Статус>Аннулирована</Статус>
      <ДействуетС>2022-07-01T00:00:00</ДействуетС>
    </СтатусАккредитации>
  </УдостоверяющийЦентр>
</АккредитованныеУдостоверяющиеЦентры>
"#;

/// 1-based line of the `nth` (0-based) occurrence of `needle` in `text`.
fn line_of_nth(text: &str, needle: &str, nth: usize) -> usize {
    let (offset, _) = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("{needle:?} #{nth} not in the text"));
    1 + text[..offset].matches('\n').count()
}

/// 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    line_of_nth(text, needle, 0)
}

/// 1-based column (in characters) of the first occurrence of `needle` in `text`.
fn column_of(text: &str, needle: &str) -> usize {
    let offset = text.find(needle).expect("needle in the text");
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    1 + text[line_start..offset].chars().count()
}

/// `text` with the first occurrence of `from` replaced by `to` (which must exist).
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in the text");
    text.replacen(from, to, 1)
}

fn parse_ok(xml: &str) -> tsl::CaList {
    tsl::parse(xml.as_bytes()).unwrap_or_else(|e| panic!("sample must parse: {e}"))
}

fn parse_err(xml: &str) -> TslError {
    match tsl::parse(xml.as_bytes()) {
        Ok(_) => panic!("the document must be rejected"),
        Err(e) => e,
    }
}

fn expect_xml(err: TslError) -> (usize, usize, String, String) {
    match err {
        TslError::Xml {
            line,
            column,
            element,
            detail,
        } => (line, column, element, detail),
        other => panic!("expected an XML error, got {other:?}"),
    }
}

fn expect_structure(err: TslError) -> (usize, String, String) {
    match err {
        TslError::Structure {
            line,
            element,
            detail,
        } => (line, element, detail),
        other => panic!("expected a structure error, got {other:?}"),
    }
}

#[test]
fn sample_counts_and_report() {
    let list = parse_ok(SAMPLE);
    assert_eq!(list.version.as_deref(), Some("1427"));
    assert_eq!(list.date.as_deref(), Some("2025-03-14T09:30:00"));
    assert_eq!(list.cas.len(), 3);
    let statuses: Vec<_> = list.cas.iter().map(|ca| ca.status.clone()).collect();
    assert_eq!(
        statuses,
        [
            AccreditationStatus::Active,
            AccreditationStatus::Terminated,
            AccreditationStatus::Annulled
        ]
    );
    let certs_per_ca: Vec<_> = list.cas.iter().map(|ca| ca.certificates.len()).collect();
    assert_eq!(certs_per_ca, [2, 1, 1]);

    let (certs, report) = list.active_certificates();
    assert_eq!(report.cas_total, 3);
    assert_eq!(report.cas_active, 1);
    assert_eq!(report.certificates_loaded, 2);
    assert_eq!(certs.len(), 2);
    assert!(certs.iter().all(|(ca, _)| ca.registry_number == "1"));
    let thumbprints: Vec<_> = certs.iter().map(|(_, c)| c.thumbprint.as_str()).collect();
    assert_eq!(
        thumbprints,
        [
            "A1B2C3D4E5F60718293A4B5C6D7E8F9012345678",
            "B2C3D4E5F60718293A4B5C6D7E8F901234567890"
        ]
    );

    assert_eq!(report.skipped.len(), 2);
    assert_eq!(report.skipped[0].registry_number, "2");
    assert_eq!(report.skipped[0].name, "ООО \"Закрытый УЦ\"");
    assert!(
        report.skipped[0].reason.contains("Прекращена")
            && report.skipped[0].reason.contains("2022-01-01T00:00:00")
            && report.skipped[0].reason.contains("1 certificate"),
        "{}",
        report.skipped[0].reason
    );
    assert_eq!(report.skipped[1].registry_number, "3");
    assert!(
        report.skipped[1].reason.contains("Аннулирована"),
        "{}",
        report.skipped[1].reason
    );
}

#[test]
fn sample_fields() {
    let list = parse_ok(SAMPLE);
    let ca = &list.cas[0];
    // The nested Адрес/Регион/Название must not override the CA name.
    assert_eq!(ca.name, "АО \"Аналитический Центр\"");
    assert_eq!(ca.inn, "7700000001");
    assert_eq!(ca.ogrn, "1027700000001");
    assert_eq!(ca.registry_number, "1");
    // The status inside ИсторияСтатусаАккредитации is ignored.
    assert_eq!(ca.status, AccreditationStatus::Active);
    assert_eq!(ca.status_since.as_deref(), Some("2021-07-01T00:00:00"));
    // CRL addresses of both keys, deduplicated, in document order.
    assert_eq!(
        ca.crl_urls,
        [
            "http://ac.example.ru/cdp/ac2021.crl",
            "http://cdp.example.ru/ac2021.crl",
            "http://ac.example.ru/cdp/ac2024.crl"
        ]
    );
    let first = &ca.certificates[0];
    assert_eq!(first.der, b"\x30\x0A\x02\x01\x01\x04\x05hello");
    assert_eq!(first.serial, "00EA1B2C3D00000000000A");
    assert_eq!(first.valid_from.as_deref(), Some("2021-06-01T10:00:00"));
    assert_eq!(first.valid_to.as_deref(), Some("2036-06-01T10:00:00"));
    // Base64 broken over lines decodes to the full 160-byte SEQUENCE.
    let second = &ca.certificates[1];
    let expected: Vec<u8> = [0x30, 0x81, 0x9D]
        .into_iter()
        .chain((0..157u32).map(|i| ((i * 7 + 3) % 256) as u8))
        .collect();
    assert_eq!(second.der, expected);
    assert_eq!(
        list.cas[1].crl_urls,
        ["http://closed.example.ru/cdp/zuc.crl"]
    );
    assert!(list.cas[2].crl_urls.is_empty());
    assert_eq!(
        list.cas[2].certificates[0].der,
        b"\x30\x0B\x02\x01\x04\x04\x06voided"
    );
}

#[test]
fn bom_and_utf8_declaration_are_accepted() {
    let plain = parse_ok(SAMPLE);
    let with_bom = format!("\u{FEFF}{SAMPLE}");
    assert_eq!(parse_ok(&with_bom), plain);
    let upper = replace_once(SAMPLE, "encoding=\"utf-8\"", "encoding=\"UTF-8\"");
    assert_eq!(parse_ok(&upper), plain);
    let no_decl = replace_once(SAMPLE, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n", "");
    assert_eq!(parse_ok(&no_decl), plain);
    // Line numbers after a BOM still count from the first line.
    let broken = format!(
        "\u{FEFF}{}",
        replace_once(SAMPLE, "<Город>Москва</Город>", "<Город>Москва</Горд>")
    );
    let (line, _, element, _) = expect_xml(parse_err(&broken));
    assert_eq!(line, line_of(SAMPLE, "<Город>Москва</Город>"));
    assert_eq!(element, "Город");
}

#[test]
fn crlf_line_endings_are_accepted() {
    let crlf = SAMPLE.replace('\n', "\r\n");
    let list = parse_ok(&crlf);
    assert_eq!(list, parse_ok(SAMPLE));
    let broken = replace_once(&crlf, "&quot;Закрытый", "&bogus;Закрытый");
    let (line, _, _, _) = expect_xml(parse_err(&broken));
    assert_eq!(line, line_of(SAMPLE, "&quot;Закрытый"));
}

#[test]
fn other_declared_encoding_is_refused() {
    let cp1251 = replace_once(SAMPLE, "encoding=\"utf-8\"", "encoding=\"windows-1251\"");
    let err = parse_err(&cp1251);
    assert_eq!(err.code(), "tsl-structure");
    let (line, element, detail) = expect_structure(err);
    assert_eq!(line, 1);
    assert_eq!(element, "?xml");
    assert!(detail.contains("only UTF-8"), "{detail}");
    assert!(detail.contains("windows-1251"), "{detail}");
}

#[test]
fn utf16_is_refused() {
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(SAMPLE.encode_utf16().flat_map(u16::to_le_bytes));
    let (line, _, detail) = expect_structure(tsl::parse(&utf16).expect_err("UTF-16 refused"));
    assert_eq!(line, 1);
    assert!(detail.contains("only UTF-8"), "{detail}");
}

#[test]
fn truncated_document_names_the_unclosed_element() {
    // Cut inside the second certificate's data of the first CA.
    let cut = SAMPLE.find("fYSLkpmg").expect("marker");
    let truncated = &SAMPLE[..cut];
    let err = parse_err(truncated);
    assert_eq!(err.code(), "tsl-xml");
    let (line, column, element, detail) = expect_xml(err);
    assert_eq!(element, "Данные");
    let data_line = line_of_nth(SAMPLE, "<Данные>", 1);
    assert_eq!(line, data_line);
    assert_eq!(column, 17);
    assert!(detail.contains("not closed"), "{detail}");
}

#[test]
fn truncated_inside_a_tag() {
    let cut = SAMPLE.find("<РеестровыйНомер>2").expect("marker") + "<Реес".len();
    let (line, column, element, _) = expect_xml(parse_err(&SAMPLE[..cut]));
    assert_eq!(line, line_of(SAMPLE, "<РеестровыйНомер>2"));
    assert_eq!(column, 5);
    assert_eq!(element, "УдостоверяющийЦентр");
}

#[test]
fn mismatched_end_tag_has_line_and_column() {
    let bad = replace_once(SAMPLE, "<ИНН>7700000002</ИНН>", "<ИНН>7700000002</ИН>");
    let (line, column, element, detail) = expect_xml(parse_err(&bad));
    assert_eq!(line, line_of(SAMPLE, "<ИНН>7700000002"));
    assert_eq!(column, column_of(&bad, "</ИН>"));
    assert_eq!(element, "ИНН");
    assert!(detail.contains("ИН"), "{detail}");
}

#[test]
fn unknown_entity_is_an_xml_error() {
    let bad = replace_once(SAMPLE, "&quot;Аннулированный", "&nbsp;Аннулированный");
    let (line, column, element, detail) = expect_xml(parse_err(&bad));
    assert_eq!(line, line_of(SAMPLE, "&quot;Аннулированный"));
    assert_eq!(column, column_of(&bad, "&nbsp;"));
    assert_eq!(element, "Название");
    assert!(detail.contains("nbsp"), "{detail}");
}

#[test]
fn unterminated_entity_is_an_xml_error() {
    let bad = replace_once(
        SAMPLE,
        "<Город>Москва</Город>",
        "<Город>Москва &amp</Город>",
    );
    let (line, _, _, _) = expect_xml(parse_err(&bad));
    assert_eq!(line, line_of(SAMPLE, "<Город>Москва</Город>"));
}

#[test]
fn text_outside_the_root_is_an_xml_error() {
    let before = replace_once(
        SAMPLE,
        "<АккредитованныеУдостоверяющиеЦентры ",
        "junk\n<АккредитованныеУдостоверяющиеЦентры ",
    );
    let (line, column, element, detail) = expect_xml(parse_err(&before));
    assert_eq!((line, column), (2, 1));
    assert_eq!(element, "#document");
    assert!(detail.contains("before"), "{detail}");

    let after = format!("{SAMPLE}\n  trailing");
    let (line, column, _, detail) = expect_xml(parse_err(&after));
    assert_eq!(line, SAMPLE.lines().count() + 2);
    assert_eq!(column, 3);
    assert!(detail.contains("after"), "{detail}");

    let second_root = format!("{SAMPLE}<АккредитованныеУдостоверяющиеЦентры/>");
    let (line, _, _, detail) = expect_xml(parse_err(&second_root));
    assert_eq!(line, SAMPLE.lines().count() + 1);
    assert!(detail.contains("second root"), "{detail}");
}

#[test]
fn wrong_root_element_is_a_structure_error() {
    let bad = SAMPLE.replace("АккредитованныеУдостоверяющиеЦентры", "СписокУЦ");
    let (line, element, detail) = expect_structure(parse_err(&bad));
    assert_eq!(line, 2);
    assert_eq!(element, "СписокУЦ");
    assert!(
        detail.contains("АккредитованныеУдостоверяющиеЦентры"),
        "{detail}"
    );
}

#[test]
fn empty_document_is_a_structure_error() {
    let (_, element, _) = expect_structure(parse_err(""));
    assert_eq!(element, "#document");
    let (_, _, detail) = expect_structure(parse_err("<?xml version=\"1.0\"?>\n<!-- nothing -->\n"));
    assert!(detail.contains("no root"), "{detail}");
}

#[test]
fn certificate_without_data_is_a_structure_error() {
    let bad = replace_once(SAMPLE, "<Данные>MAsCAQMEBmNsb3NlZA==</Данные>", "");
    let err = parse_err(&bad);
    assert_eq!(err.code(), "tsl-structure");
    let (line, element, detail) = expect_structure(err);
    assert_eq!(line, line_of_nth(SAMPLE, "<ДанныеСертификата>", 2));
    assert_eq!(element, "ДанныеСертификата");
    assert!(detail.contains("Данные"), "{detail}");
}

#[test]
fn certificate_without_thumbprint_is_a_structure_error() {
    let bad = replace_once(
        SAMPLE,
        "<Отпечаток>D4E5F60718293A4B5C6D7E8F9012345678901234</Отпечаток>",
        "",
    );
    let (line, element, detail) = expect_structure(parse_err(&bad));
    assert_eq!(line, line_of_nth(SAMPLE, "<ДанныеСертификата>", 3));
    assert_eq!(element, "ДанныеСертификата");
    assert!(detail.contains("Отпечаток"), "{detail}");
}

#[test]
fn ca_without_inn_is_a_structure_error() {
    let bad = replace_once(SAMPLE, "<ИНН>7700000002</ИНН>", "");
    let (line, element, detail) = expect_structure(parse_err(&bad));
    assert_eq!(line, line_of_nth(SAMPLE, "<УдостоверяющийЦентр>", 1));
    assert_eq!(element, "УдостоверяющийЦентр");
    assert!(
        detail.contains("ИНН") && detail.contains("registry number 2"),
        "{detail}"
    );
}

#[test]
fn ca_without_status_is_a_structure_error() {
    let bad = replace_once(SAMPLE, "<Статус>Аннулирована</Статус>", "");
    let (line, element, detail) = expect_structure(parse_err(&bad));
    assert_eq!(line, line_of(SAMPLE, "<Статус>Аннулирована") - 1);
    assert_eq!(element, "СтатусАккредитации");
    assert!(detail.contains("Статус"), "{detail}");
}

#[test]
fn duplicate_field_is_a_structure_error() {
    let bad = replace_once(
        SAMPLE,
        "<ОГРН>1157700000002</ОГРН>",
        "<ОГРН>1157700000002</ОГРН>\n<ОГРН>1157700000009</ОГРН>",
    );
    let (line, element, _) = expect_structure(parse_err(&bad));
    assert_eq!(line, line_of(SAMPLE, "<ОГРН>1157700000002") + 1);
    assert_eq!(element, "ОГРН");
}

#[test]
fn child_element_in_a_text_field_is_a_structure_error() {
    let bad = replace_once(
        SAMPLE,
        "<ИНН>7700000003</ИНН>",
        "<ИНН><b>7700000003</b></ИНН>",
    );
    let (line, element, _) = expect_structure(parse_err(&bad));
    assert_eq!(line, line_of(SAMPLE, "<ИНН>7700000003"));
    assert_eq!(element, "ИНН");
}

#[test]
fn doctype_is_refused() {
    let bad = replace_once(
        SAMPLE,
        "<АккредитованныеУдостоверяющиеЦентры ",
        "<!DOCTYPE x [<!ENTITY e \"boom\">]>\n<АккредитованныеУдостоверяющиеЦентры ",
    );
    let (line, _, detail) = expect_structure(parse_err(&bad));
    assert_eq!(line, 2);
    assert!(detail.contains("DOCTYPE"), "{detail}");
}

#[test]
fn bad_base64_names_the_line() {
    // Corrupt the second line of the wrapped certificate data.
    let bad = replace_once(SAMPLE, "fYSLkpmgp661", "fYSLkp!gp661");
    let err = parse_err(&bad);
    assert_eq!(err.code(), "tsl-base64");
    match err {
        TslError::Base64 { line, detail } => {
            assert_eq!(line, line_of(SAMPLE, "fYSLkpmgp661"));
            assert!(
                detail.contains("B2C3D4E5F60718293A4B5C6D7E8F901234567890"),
                "{detail}"
            );
        }
        other => panic!("expected a base64 error, got {other:?}"),
    }
    // Wrong length: reported at the Данные start tag.
    let short = replace_once(SAMPLE, "MAoCAQEEBWhlbGxv", "MAoCAQEEBWhlbGx");
    match parse_err(&short) {
        TslError::Base64 { line, .. } => {
            assert_eq!(line, line_of(SAMPLE, "MAoCAQEEBWhlbGxv"));
        }
        other => panic!("expected a base64 error, got {other:?}"),
    }
}

#[test]
fn unknown_status_is_kept_and_skipped() {
    let odd = replace_once(
        SAMPLE,
        "<Статус>Прекращена</Статус>\n      <ДействуетС>2022",
        "<Статус>Приостановлена</Статус>\n      <ДействуетС>2022",
    );
    let list = parse_ok(&odd);
    assert_eq!(
        list.cas[1].status,
        AccreditationStatus::Other("Приостановлена".to_owned())
    );
    let (certs, report) = list.active_certificates();
    assert_eq!(certs.len(), 2);
    assert!(report.skipped[0].reason.contains("Приостановлена"));
}

#[test]
fn non_der_certificate_of_an_active_ca_is_skipped() {
    // "aGVsbG8=" is "hello": valid base64, not a DER SEQUENCE.
    let odd = replace_once(SAMPLE, "MAoCAQEEBWhlbGxv", "aGVsbG8=");
    let list = parse_ok(&odd);
    let (certs, report) = list.active_certificates();
    assert_eq!(report.cas_active, 1);
    assert_eq!(report.certificates_loaded, 1);
    assert_eq!(certs.len(), 1);
    assert_eq!(report.skipped.len(), 3);
    let bad = &report.skipped[0];
    assert_eq!(bad.registry_number, "1");
    assert!(
        bad.reason
            .contains("A1B2C3D4E5F60718293A4B5C6D7E8F9012345678"),
        "{}",
        bad.reason
    );
}

#[test]
fn empty_and_self_closing_elements() {
    // A self-closing unknown element and a CA with no hardware/software complexes.
    let odd = replace_once(
        SAMPLE,
        "<ЭлектроннаяПочта>ca@ac.example.ru</ЭлектроннаяПочта>",
        "<ЭлектроннаяПочта/>",
    );
    let start = odd.find("    <ПрограммноАппаратныеКомплексы>\n      <ПрограммноАппаратныйКомплекс>\n        <КлючиУполномоченныхЛиц>").expect("third CA complexes");
    let end = odd
        .rfind("    </ПрограммноАппаратныеКомплексы>\n")
        .expect("end")
        + "    </ПрограммноАппаратныеКомплексы>\n".len();
    let odd = format!("{}{}", &odd[..start], &odd[end..]);
    let list = parse_ok(&odd);
    assert!(list.cas[2].certificates.is_empty());
    assert_eq!(list.cas[0].certificates.len(), 2);
}

#[test]
fn comments_and_cdata_are_handled() {
    let odd = replace_once(
        SAMPLE,
        "<ИНН>7700000001</ИНН>",
        "<!-- ИНН --><ИНН><![CDATA[7700000001]]></ИНН>",
    );
    assert_eq!(parse_ok(&odd).cas[0].inn, "7700000001");
}

#[test]
fn error_display_names_line_and_element() {
    let bad = replace_once(SAMPLE, "&quot;Аннулированный", "&nbsp;Аннулированный");
    let text = parse_err(&bad).to_string();
    let line = line_of(SAMPLE, "&quot;Аннулированный");
    assert!(text.contains(&format!("line {line}")), "{text}");
    assert!(text.contains("Название"), "{text}");
}

#[test]
fn parse_file_reads_and_reports_io() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("TSL.xml");
    std::fs::write(&path, SAMPLE).expect("write sample");
    let list = tsl::parse_file(&path).expect("parse file");
    assert_eq!(list.cas.len(), 3);
    let err = tsl::parse_file(dir.path().join("missing.xml")).expect_err("missing file");
    assert_eq!(err.code(), "io");
}

#[test]
fn synthetic_list_matches_its_spec() {
    let spec = testdata::Spec {
        cas: 40,
        certs_per_ca: 4,
        cert_len: 1300,
        seed: 42,
    };
    let generated = testdata::synthetic(&spec);
    let list = parse_ok(&generated.xml);
    assert_eq!(list.cas.len(), 40);
    assert_eq!(
        list.cas
            .iter()
            .map(|ca| ca.certificates.len())
            .sum::<usize>(),
        generated.certificates_total
    );
    let (certs, report) = list.active_certificates();
    assert_eq!(report.cas_active, generated.cas_active);
    assert_eq!(report.certificates_loaded, generated.certificates_active);
    assert_eq!(certs.len(), generated.certificates_active);
    assert_eq!(report.skipped.len(), 40 - generated.cas_active);
    assert!(certs.iter().all(|(_, c)| c.der.len() == 1300));
}
