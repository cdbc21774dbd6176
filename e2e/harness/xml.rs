//! Just enough of S3's XML answers to check them: tags' text, listings,
//! error codes. S3 documents have no attributes the tests need, no CDATA.

use super::Response;

/// Every `<tag>...</tag>` text in an S3 XML document, entity-decoded.
pub fn xml_all(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = vec![];
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(xml_unescape(&after[..end]));
        rest = &after[end + close.len()..];
    }
    out
}

/// Decodes XML entities (named and numeric); an unknown one is a test failure.
pub fn xml_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(semi) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..semi];
        match entity {
            "amp" => out.push('&'),
            "lt" => out.push('<'),
            "gt" => out.push('>'),
            "quot" => out.push('"'),
            "apos" => out.push('\''),
            e if e.starts_with("#x") => {
                let c = u32::from_str_radix(&e[2..], 16)
                    .ok()
                    .and_then(char::from_u32);
                out.push(c.unwrap_or_else(|| panic!("bad XML entity &{e};")));
            }
            e if e.starts_with('#') => {
                let c = e[1..].parse().ok().and_then(char::from_u32);
                out.push(c.unwrap_or_else(|| panic!("bad XML entity &{e};")));
            }
            e => panic!("unknown XML entity &{e};"),
        }
        rest = &tail[semi + 1..];
    }
    out.push_str(rest);
    out
}

/// The first `<tag>` text, entity-decoded.
pub fn xml_one(xml: &str, tag: &str) -> Option<String> {
    xml_all(xml, tag).into_iter().next()
}

/// `<Contents><Key>` of a ListObjectsV2 page.
pub fn listed_keys(xml: &str) -> Vec<String> {
    xml_all(xml, "Contents")
        .iter()
        .flat_map(|c| xml_all(c, "Key"))
        .collect()
}

/// `<CommonPrefixes><Prefix>` of a ListObjectsV2 page.
pub fn common_prefixes(xml: &str) -> Vec<String> {
    xml_all(xml, "CommonPrefixes")
        .iter()
        .flat_map(|c| xml_all(c, "Prefix"))
        .collect()
}

/// The `<Code>` of an S3 error document (empty when there is none).
pub fn s3_error_code(r: &Response) -> String {
    xml_one(&r.text(), "Code").unwrap_or_default()
}
