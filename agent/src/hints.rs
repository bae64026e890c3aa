//! Known-product hints: a card of a known product (by its ATR, `agent/data/known-tokens.toml`)
//! is in a reader, but none of the PKCS#11 modules that serve it is installed — or none of
//! them loads. Then `list-certificates`, `list`, `doctor` and the confirmation window say which
//! product it is and what to install, instead of only "insert your token".

use crate::known_tokens;
use std::path::Path;
use tokenconfirm_wire::native::{CardState, ReadersSnapshot, TokenHint};

/// The hints for `readers`, given the modules that loaded (`loaded`: their paths).
pub fn hints<P: AsRef<Path>>(readers: &ReadersSnapshot, loaded: &[P]) -> Vec<TokenHint> {
    readers
        .readers
        .iter()
        .filter(|r| r.card == CardState::Present && !r.modules.is_empty())
        .filter(|r| {
            !r.modules.iter().any(|m| {
                loaded
                    .iter()
                    .any(|p| known_tokens::module_matches(m, p.as_ref()))
            })
        })
        .filter_map(|r| {
            let product = r.product.as_deref()?;
            let known = known_tokens::by_product(product)?;
            Some(TokenHint {
                reader: r.name.clone(),
                product: product.to_owned(),
                modules: r.modules.clone(),
                install_en: known.install_en.clone(),
                install_ru: known.install_ru.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readers::snapshot_of;
    use std::path::PathBuf;
    use tokenconfirm_wire::native::{ReaderInfo, ReadersState};

    fn reader(name: &str, card: CardState, product: Option<&str>) -> ReaderInfo {
        let known = product.and_then(known_tokens::by_product);
        ReaderInfo {
            name: name.into(),
            card,
            atr: Some("3B 8B".into()),
            product: product.map(str::to_owned),
            modules: known.map(|k| k.modules.clone()).unwrap_or_default(),
            pin_pad: false,
        }
    }

    const RUTOKEN: &str = "Рутокен ЭЦП / Rutoken ECP";

    fn snapshot(readers: Vec<ReaderInfo>) -> ReadersSnapshot {
        snapshot_of(ReadersState::Ok, readers)
    }

    #[test]
    fn a_known_card_without_its_module_gets_a_hint() {
        let s = snapshot(vec![
            reader("Aktiv Rutoken ECP 00 00", CardState::Present, Some(RUTOKEN)),
            reader("Generic Reader 01 00", CardState::Empty, None),
        ]);
        let loaded = [PathBuf::from("/usr/lib/softhsm/libsofthsm2.so")];
        let h = hints(&s, &loaded);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].reader, "Aktiv Rutoken ECP 00 00");
        assert_eq!(h[0].product, RUTOKEN);
        assert_eq!(h[0].modules, ["librtpkcs11ecp.so"]);
        assert!(h[0].install_ru.contains("rutoken.ru") && h[0].install_en.contains("rutoken.ru"));
        let v = serde_json::to_value(&h[0]).unwrap();
        assert!(v["installRu"].is_string() && v["installEn"].is_string());
    }

    #[test]
    fn no_hint_when_a_module_of_the_product_loaded() {
        let s = snapshot(vec![reader("R", CardState::Present, Some(RUTOKEN))]);
        assert!(hints(
            &s,
            &[PathBuf::from(
                "/opt/aktivco/rutokenecp/x86_64/librtpkcs11ecp.so"
            )]
        )
        .is_empty());
        // Either module of a product with two is enough.
        let yubikey = snapshot(vec![reader("Y", CardState::Present, Some("YubiKey (PIV)"))]);
        assert!(hints(
            &yubikey,
            &[PathBuf::from("/usr/lib/x86_64-linux-gnu/libykcs11.so")]
        )
        .is_empty());
        assert_eq!(hints::<PathBuf>(&yubikey, &[]).len(), 1);
    }

    #[test]
    fn unknown_absent_or_mute_cards_get_no_hint() {
        let s = snapshot(vec![
            reader("unknown card", CardState::Present, None),
            reader("empty", CardState::Empty, Some(RUTOKEN)),
            reader("mute", CardState::Mute, Some(RUTOKEN)),
        ]);
        assert!(hints::<PathBuf>(&s, &[]).is_empty());
        assert!(hints::<PathBuf>(&snapshot_of(ReadersState::NoService, vec![]), &[]).is_empty());
    }
}
