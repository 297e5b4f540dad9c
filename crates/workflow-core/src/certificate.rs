//! 志愿服务证明: a volunteer's certificate of service for a period (民政部令第67号,
//! 志愿服务记录与证明出具办法). The rules of it: which identity documents it names and how a
//! number is checked, that only the last four characters are ever kept, and how its number and
//! check code are made. Totals come from the ledger (the records the certificate stands for).

use uuid::Uuid;

/// The identity documents a certificate may name (the volunteer chooses; the number is checked
/// where its format is public, and only its last four characters are kept).
pub const ID_KINDS: [(&str, &str); 5] = [
    ("resident_id", "居民身份证"),
    ("hk_macao_pass", "港澳居民来往内地通行证"),
    ("taiwan_pass", "台湾居民来往大陆通行证"),
    ("passport", "护照"),
    ("foreign_permanent_id", "外国人永久居留身份证"),
];

/// What a certificate keeps of an identity document: its kind and last four characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdDocument {
    pub kind: String,
    pub last4: String,
}

/// Checks an identity document's number as the volunteer typed it: a 居民身份证 by GB
/// 11643-1999's check digit (a typo is caught before it is printed), the others by their
/// shape. Returns what is kept; the full number goes no further.
pub fn check_id(kind: &str, number: &str) -> Result<IdDocument, String> {
    if !ID_KINDS.iter().any(|(k, _)| *k == kind) {
        let kinds: Vec<_> = ID_KINDS.iter().map(|(k, _)| *k).collect();
        return Err(format!("id_type is one of {}", kinds.join(", ")));
    }
    let number: String = number
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    let ok = match kind {
        "resident_id" => resident_id_ok(&number),
        _ => (5..=20).contains(&number.len()) && number.chars().all(|c| c.is_ascii_alphanumeric()),
    };
    if !ok {
        return Err(match kind {
            "resident_id" => "id_number is not a valid 18-character 居民身份证 number".into(),
            _ => "id_number is 5 to 20 letters and digits".into(),
        });
    }
    Ok(IdDocument {
        kind: kind.to_owned(),
        last4: number[number.len() - 4..].to_owned(),
    })
}

/// GB 11643-1999: 17 digits and a check character (0-9 or X) from their weighted sum.
fn resident_id_ok(n: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let bytes = n.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = bytes[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    bytes[17] == CHECK[(sum % 11) as usize]
}

/// Letters and digits nobody misreads on paper (no 0/O, 1/I/L).
const ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// A certificate's number (`2026-7KQM2XPA`, the year of issue and eight characters) and check
/// code (six more), both from `random` (a v4 UUID: the randomness is the caller's). The number
/// names it; the check code proves a copy genuine on the public page: both are needed.
pub fn codes(random: Uuid, year: i16) -> (String, String) {
    let pick = |b: &u8| ALPHABET[usize::from(*b) % ALPHABET.len()] as char;
    let bytes = random.as_bytes();
    let number: String = bytes[..8].iter().map(pick).collect();
    let check: String = bytes[8..14].iter().map(pick).collect();
    (format!("{year}-{number}"), check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resident_id_is_checked_by_its_check_digit_and_only_four_characters_are_kept() {
        // GB 11643-1999's own example.
        assert_eq!(
            check_id("resident_id", "11010519491231002X"),
            Ok(IdDocument {
                kind: "resident_id".into(),
                last4: "002X".into()
            })
        );
        assert_eq!(
            check_id("resident_id", "110105194912310021x")
                .map(|d| d.last4)
                .ok(),
            None
        );
        assert!(
            check_id("resident_id", "110105194912310021").is_err(),
            "a typo"
        );
        assert_eq!(
            check_id("resident_id", "1101 0519 4912 3100 2x").map(|d| d.last4),
            Ok("002X".into())
        );
        assert!(check_id("passport", "E12345678").is_ok());
        assert!(check_id("passport", "E1").is_err());
        assert!(check_id("driving_licence", "E12345678").is_err());
    }

    #[test]
    fn codes_are_readable_and_differ() {
        let (n1, c1) = codes(Uuid::from_u128(1), 2026);
        let (n2, _) = codes(Uuid::from_u128(u128::MAX / 3), 2026);
        assert!(n1.starts_with("2026-") && n1.len() == 13 && c1.len() == 6);
        assert_ne!(n1, n2);
        assert!(
            n1[5..]
                .bytes()
                .chain(c1.bytes())
                .all(|b| ALPHABET.contains(&b))
        );
    }
}
