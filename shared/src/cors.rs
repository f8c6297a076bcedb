//! The browser origins allowed to call the API (CORS), as the settings file lists them. The
//! template's preflight methods and gateway responses, the backend's responses and the local
//! gateway all answer from the same list, checked the same way.
//!
//! An origin is what a browser sends in `Origin`: `scheme://host[:port]`, lower case, with no
//! path. The list is explicit: `*` is refused, so that adding CORS never opens the API's
//! error bodies to every site.

/// Request headers a preflight allows: the token, and the JSON body of a POST.
pub const ALLOW_HEADERS: &str = "Authorization,Content-Type";
/// Seconds a browser may cache a preflight's answer.
pub const MAX_AGE_SECONDS: u32 = 600;

/// A checked list of allowed origins; empty means no CORS at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<String>);

impl AllowedOrigins {
    /// Checks each origin; the error names the first bad one and why.
    pub fn new(origins: Vec<String>) -> Result<Self, String> {
        for (i, origin) in origins.iter().enumerate() {
            check_origin(origin)?;
            if origins.iter().take(i).any(|o| o == origin) {
                return Err(format!("origin `{origin}` is listed twice"));
            }
        }
        Ok(Self(origins))
    }

    /// Reads the comma-separated form the functions get in their environment.
    pub fn from_list(list: &str) -> Result<Self, String> {
        let origins = list
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect();
        Self::new(origins)
    }

    /// The comma-separated form, for a function's environment.
    pub fn to_list(&self) -> String {
        self.0.join(",")
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of `Access-Control-Allow-Origin` for a request from `origin`: the origin
    /// itself when it is allowed, else none (and the browser keeps the response from the page).
    pub fn allow<'a>(&self, origin: Option<&'a str>) -> Option<&'a str> {
        origin.filter(|o| self.0.iter().any(|allowed| allowed == o))
    }
}

/// `scheme://host[:port]` as a browser writes it in `Origin`.
fn check_origin(origin: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "origin `{origin}` {why}; write it as a browser sends it, e.g. `https://app.example.com` or `http://localhost:8080`"
        ))
    };
    if origin == "*" {
        return bad("is a wildcard, which is not allowed: list the origins");
    }
    let Some(rest) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return bad("does not start with `https://` or `http://`");
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return bad("has a host that is not lower-case letters, digits, `.` and `-` (and no path)");
    }
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p > 0)
    {
        return bad("has a port that is not 1 to 65535");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked_as_a_browser_writes_them() {
        for good in [
            "https://app.example.com",
            "http://localhost:8080",
            "http://127.0.0.1:5173",
        ] {
            assert!(AllowedOrigins::new(vec![good.into()]).is_ok(), "{good}");
        }
        for (bad, needle) in [
            ("*", "wildcard"),
            ("app.example.com", "https://"),
            ("https://app.example.com/", "no path"),
            ("https://App.example.com", "lower-case"),
            ("https://app.example.com:0", "port"),
            ("https://app.example.com:99999", "port"),
            ("https://a.example.com'", "lower-case"),
            ("https://", "host"),
        ] {
            let err = AllowedOrigins::new(vec![bad.into()]).unwrap_err();
            assert!(err.contains(needle), "{bad}: {err}");
            assert!(err.contains(bad), "{bad}: {err}");
        }
        let twice = vec!["https://a.example".into(), "https://a.example".into()];
        assert!(AllowedOrigins::new(twice).unwrap_err().contains("twice"));
    }

    #[test]
    fn only_an_allowed_origin_is_echoed() {
        let origins =
            AllowedOrigins::from_list("https://a.example, http://localhost:3000").unwrap();
        assert_eq!(
            origins.allow(Some("https://a.example")),
            Some("https://a.example")
        );
        assert_eq!(
            origins.allow(Some("http://localhost:3000")),
            Some("http://localhost:3000")
        );
        assert_eq!(origins.allow(Some("https://a.example.evil")), None);
        assert_eq!(origins.allow(Some("https://A.example")), None);
        assert_eq!(origins.allow(None), None);
        assert_eq!(
            AllowedOrigins::default().allow(Some("https://a.example")),
            None
        );
        assert_eq!(origins.to_list(), "https://a.example,http://localhost:3000");
        assert!(AllowedOrigins::from_list("").unwrap().is_empty());
    }
}
