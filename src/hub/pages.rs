//! JupyterHub's paginated listings (`Accept: application/jupyterhub-pagination+json`):
//! asks for the largest page the hub allows and follows `next` to the end.

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::{decode, HubClient, HubError};

/// Asked for on the first page; the hub clamps it to its `api_page_max_limit`.
pub const WANT_PAGE: usize = 10_000;

#[derive(Debug, Deserialize)]
struct Page<T> {
    items: Vec<T>,
    #[serde(rename = "_pagination")]
    pagination: Pagination,
}

#[derive(Debug, Deserialize)]
struct Pagination {
    #[serde(default)]
    limit: usize,
    #[serde(default)]
    next: Option<Next>,
}

#[derive(Debug, Deserialize)]
struct Next {
    offset: usize,
}

impl HubClient {
    /// Every item of a paginated listing such as `users`; `query` is added to each page.
    pub async fn get_all_pages<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, HubError> {
        let mut out = Vec::new();
        let mut offset = 0usize;
        let mut limit = WANT_PAGE;
        loop {
            let rb = self
                .request(Method::GET, path)
                .header("Accept", "application/jupyterhub-pagination+json")
                .query(query)
                .query(&[("offset", offset), ("limit", limit)]);
            let page: Page<T> = decode(self.send(rb).await?).await?;
            let n = page.items.len();
            out.extend(page.items);
            match page.pagination.next {
                // Guard against a hub that answers `next` without progress.
                Some(next) if n > 0 && next.offset > offset => {
                    offset = next.offset;
                    if page.pagination.limit > 0 {
                        limit = page.pagination.limit;
                    }
                }
                _ => return Ok(out),
            }
        }
    }
}
