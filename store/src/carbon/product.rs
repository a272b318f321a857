//! Which product and version a home holds (`bin/version.txt`, else
//! `repository/conf/carbon.xml`), and whether a patch's "Applies To" line
//! names it.

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Product {
    pub name: String,
    pub version: String,
    /// The file it was read from.
    pub source: String,
}

impl std::fmt::Display for Product {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} (from {})", self.name, self.version, self.source)
    }
}

/// Reads the product from the home, if it says.
pub fn detect(home: &Path) -> Option<Product> {
    if let Ok(text) = std::fs::read_to_string(home.join("bin/version.txt")) {
        let line = text.lines().next().unwrap_or("").trim();
        if let Some(version) = versions(line).into_iter().next() {
            let name = line[..line.find(&version).unwrap_or(line.len())]
                .trim()
                .trim_end_matches(['v', 'V', '-'])
                .trim()
                .to_string();
            return Some(Product {
                name,
                version,
                source: "bin/version.txt".into(),
            });
        }
    }
    let xml = std::fs::read_to_string(home.join("repository/conf/carbon.xml")).ok()?;
    let tag = |t: &str| -> Option<String> {
        let start = xml.find(&format!("<{t}>"))? + t.len() + 2;
        let end = xml[start..].find(&format!("</{t}>"))? + start;
        Some(xml[start..end].trim().to_string())
    };
    Some(Product {
        name: tag("Name").unwrap_or_default(),
        version: tag("Version")?,
        source: "repository/conf/carbon.xml".into(),
    })
}

/// Version numbers (`4.2.0`, `5.10.0`) in a text.
fn versions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit()
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'v' || b[i - 1] == b'V')
        {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_digit()
                    || (b[i] == b'.' && i + 1 < b.len() && b[i + 1].is_ascii_digit()))
            {
                i += 1;
            }
            let v = &text[start..i];
            if v.contains('.') {
                out.push(v.to_string());
            }
        } else {
            i += 1;
        }
    }
    out
}

/// A product name reduced to a key: "WSO2 API Manager", "wso2am", "APIM" → "am".
fn product_key(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let words: Vec<String> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty() && !w.chars().all(|c| c.is_ascii_digit()) && *w != "v")
        .map(|w| w.strip_prefix("wso2").unwrap_or(w).to_string())
        .filter(|w| !w.is_empty())
        .collect();
    let joined = words.join(" ");
    match joined.as_str() {
        "am" | "apim" | "api manager" | "api m" => "am".into(),
        "is" | "identity server" => "is".into(),
        "mi" | "micro integrator" => "mi".into(),
        "ei" | "enterprise integrator" => "ei".into(),
        "carbon" | "carbon kernel" | "carbon framework" => "carbon".into(),
        _ => joined,
    }
}

/// Whether `applies_to` names this product and version. A line that names
/// versions only matches on the version.
pub fn applies(applies_to: &str, product: &Product) -> bool {
    let vs = versions(applies_to);
    if !vs.contains(&product.version) {
        return false;
    }
    let first = vs.first().map(String::as_str).unwrap_or("");
    let name = &applies_to[..applies_to.find(first).unwrap_or(applies_to.len())];
    let want = product_key(name);
    want.is_empty() || want == product_key(&product.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn am() -> Product {
        Product {
            name: "WSO2 API Manager".into(),
            version: "4.2.0".into(),
            source: "bin/version.txt".into(),
        }
    }

    #[test]
    fn applies_to_forms() {
        assert!(applies("WSO2 API Manager 4.2.0", &am()));
        assert!(applies("wso2am-4.2.0", &am()));
        assert!(applies("APIM 4.1.0, 4.2.0", &am()));
        assert!(applies("4.2.0", &am()));
        assert!(!applies("WSO2 API Manager 4.1.0", &am()));
        assert!(!applies("WSO2 Identity Server 4.2.0", &am()));
        assert!(!applies("WSO2 API Manager 4.2.01", &am()));
    }

    #[test]
    fn reads_version_txt() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("bin")).unwrap();
        std::fs::write(
            d.path().join("bin/version.txt"),
            "WSO2 API Manager v4.2.0\n",
        )
        .unwrap();
        assert_eq!(detect(d.path()), Some(am()));
    }
}
