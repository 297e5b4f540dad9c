//! Text people read: Chinese first, English available.

use serde::{Deserialize, Serialize};

/// A display label in zh-CN and English.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    #[serde(rename = "zh-CN")]
    pub zh_cn: String,
    pub en: String,
}

impl Label {
    pub fn new(zh_cn: impl Into<String>, en: impl Into<String>) -> Label {
        Label {
            zh_cn: zh_cn.into(),
            en: en.into(),
        }
    }
}
