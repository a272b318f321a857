//! A WSO2 patch's `README.txt`: Patch ID, Applies To, Associated JIRA,
//! DESCRIPTION and INSTALLATION INSTRUCTIONS, read from the text as WSO2
//! writes it (`Key   : value` lines, then headed sections).

use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Readme {
    pub patch_id: Option<String>,
    pub applies_to: Option<String>,
    pub jira: Vec<String>,
    pub description: String,
    /// Installation steps, one per item ("(i) ...", "1. ...").
    pub steps: Vec<String>,
}

/// Decodes README bytes: UTF-8 (with or without BOM) or UTF-16 with a BOM.
/// Anything else is refused with the offset of the first bad byte.
pub fn decode(bytes: &[u8]) -> Result<String, String> {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return std::str::from_utf8(rest)
            .map(str::to_string)
            .map_err(|e| not_utf8(rest, e));
    }
    for (bom, le) in [([0xFF, 0xFE], true), ([0xFE, 0xFF], false)] {
        if let Some(rest) = bytes.strip_prefix(&bom) {
            if rest.len() % 2 != 0 {
                return Err("UTF-16 text with an odd number of bytes (truncated?)".into());
            }
            let units: Vec<u16> = rest
                .chunks_exact(2)
                .map(|c| {
                    if le {
                        u16::from_le_bytes([c[0], c[1]])
                    } else {
                        u16::from_be_bytes([c[0], c[1]])
                    }
                })
                .collect();
            return String::from_utf16(&units).map_err(|_| "invalid UTF-16 text".to_string());
        }
    }
    std::str::from_utf8(bytes)
        .map(str::to_string)
        .map_err(|e| not_utf8(bytes, e))
}

fn not_utf8(bytes: &[u8], e: std::str::Utf8Error) -> String {
    let at = e.valid_up_to();
    format!(
        "not UTF-8 text (byte 0x{:02x} at offset {at}; another encoding such as Latin-1?)",
        bytes.get(at).copied().unwrap_or(0)
    )
}

fn key_value(line: &str) -> Option<(String, String)> {
    let (k, v) = line.split_once(':')?;
    let key = k.trim().to_ascii_lowercase();
    if key.is_empty() || key.len() > 40 || key.contains("http") {
        return None;
    }
    Some((
        key.split_whitespace().collect::<Vec<_>>().join(" "),
        v.trim().to_string(),
    ))
}

fn is_heading(line: &str, name: &str) -> bool {
    line.trim().trim_end_matches(':').eq_ignore_ascii_case(name)
}

fn is_rule(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty() && t.chars().all(|c| c == '-' || c == '=')
}

/// Starts a new step: "(i)", "(iv)", "1.", "2)", "a)".
fn step_start(line: &str) -> bool {
    let t = line.trim_start();
    if let Some(rest) = t.strip_prefix('(') {
        if let Some(end) = rest.find(')') {
            return end > 0
                && end <= 8
                && rest[..end]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-');
        }
    }
    let head: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
    !head.is_empty() && head.len() <= 2 && t[head.len()..].starts_with(['.', ')'])
}

pub fn parse(text: &str) -> Readme {
    let mut r = Readme::default();
    #[derive(PartialEq)]
    enum Sec {
        Head,
        Description,
        Install,
        Other,
    }
    let mut sec = Sec::Head;
    let mut last_key = String::new();
    let mut desc = Vec::new();
    for line in text.lines() {
        if is_heading(line, "DESCRIPTION") {
            sec = Sec::Description;
            continue;
        }
        if is_heading(line, "INSTALLATION INSTRUCTIONS") {
            sec = Sec::Install;
            continue;
        }
        if sec != Sec::Head && sec != Sec::Other && is_rule(line) {
            continue;
        }
        match sec {
            Sec::Head => {
                if let Some((k, v)) = key_value(line)
                    .filter(|(k, _)| !line.starts_with(char::is_whitespace) || k == "patch id")
                {
                    match k.as_str() {
                        "patch id" => r.patch_id = Some(v).filter(|s| !s.is_empty()),
                        "applies to" => r.applies_to = Some(v).filter(|s| !s.is_empty()),
                        "associated jira" | "associated jiras" | "jira" | "public jira" => {
                            r.jira.extend(split_list(&v));
                        }
                        _ => {}
                    }
                    last_key = k;
                } else if line.starts_with(char::is_whitespace) && last_key.contains("jira") {
                    r.jira.extend(split_list(line));
                } else if is_rule(line) || line.trim().is_empty() {
                    last_key.clear();
                }
            }
            Sec::Description => desc.push(line.trim_end()),
            Sec::Install => {
                let t = line.trim();
                if t.is_empty() {
                    continue;
                }
                if step_start(line) || r.steps.is_empty() {
                    r.steps.push(t.to_string());
                } else if let Some(last) = r.steps.last_mut() {
                    last.push(' ');
                    last.push_str(t);
                }
            }
            Sec::Other => {}
        }
    }
    r.description = desc.join("\n").trim().to_string();
    r
}

fn split_list(v: &str) -> Vec<String> {
    v.split([',', ' ', '\t'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Steps patchvault performs itself (shut down, copy the version file,
/// copy the patch folder, restart); the rest are manual.
pub fn is_automatic_step(step: &str, folder: &str) -> bool {
    let s = step.to_ascii_lowercase();
    s.contains("shutdown")
        || s.contains("shut down")
        || s.contains("wso2carbon-version.txt")
        || (s.contains("copy") && s.contains(&folder.to_ascii_lowercase()))
        || s.contains("restart")
        || s.contains("linux/unix")
}

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str = "Patch ID         : WSO2-CARBON-PATCH-4.9.0-0007\nApplies To       : WSO2 API Manager 4.2.0\nAssociated JIRA  : https://github.com/wso2/api-manager/issues/1, https://github.com/wso2/api-manager/issues/2\n                   https://github.com/wso2/api-manager/issues/3\n\nDESCRIPTION\n-----------\nFixes the token issue.\nSecond line.\n\nINSTALLATION INSTRUCTIONS\n-------------------------\n(i)  Shutdown the server, if you have already started.\n(ii) Copy the wso2carbon-version.txt file to <CARBON_SERVER>/bin.\n(iii) Copy the patch0007 to  <CARBON_SERVER>/repository/components/patches/\n(iv) Add the following to deployment.toml:\n     [oauth]\n     enable = true\n(v) Restart the server with :\n       Linux/Unix :  sh wso2server.sh\n";

    #[test]
    fn parses_wso2_readme() {
        let r = parse(README);
        assert_eq!(r.patch_id.as_deref(), Some("WSO2-CARBON-PATCH-4.9.0-0007"));
        assert_eq!(r.applies_to.as_deref(), Some("WSO2 API Manager 4.2.0"));
        assert_eq!(r.jira.len(), 3);
        assert_eq!(r.description, "Fixes the token issue.\nSecond line.");
        assert_eq!(r.steps.len(), 5);
        let manual: Vec<_> = r
            .steps
            .iter()
            .filter(|s| !is_automatic_step(s, "patch0007"))
            .collect();
        assert_eq!(manual.len(), 1);
        assert!(manual[0].contains("[oauth] enable = true"));
    }

    #[test]
    fn decodes_utf16_and_refuses_latin1() {
        let mut u16le = vec![0xFF, 0xFE];
        for u in "Patch ID : X".encode_utf16() {
            u16le.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(decode(&u16le).unwrap(), "Patch ID : X");
        let err = decode(b"Description: caf\xe9").unwrap_err();
        assert!(err.contains("0xe9") && err.contains("offset 16"), "{err}");
    }
}
