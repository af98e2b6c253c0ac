//! Chat templates: the Jinja template a GGUF stores in `tokenizer.chat_template`, rendered
//! as Hugging Face's `apply_chat_template` renders it (`messages`, `add_generation_prompt`,
//! `bos_token`, `eos_token`), with bounded work.

use minijinja::{Environment, ErrorKind, context};
use serde::Serialize;

use crate::error::{Result, RuntimeError};

/// Longest template accepted, in bytes.
pub(crate) const MAX_TEMPLATE_BYTES: usize = 64 * 1024;
/// Template operations allowed for one rendering (a template that loops for ever stops).
const FUEL: u64 = 1_000_000;

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// What was said.
    pub content: String,
}

impl ChatMessage {
    /// The message as the template sees it: `message['role']`, `message['content']`.
    fn to_value(&self) -> minijinja::Value {
        minijinja::Value::from_pairs([
            ("role", self.role.as_str()),
            ("content", self.content.as_str()),
        ])
    }

    /// A user turn.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: "user".to_owned(),
            content: content.into(),
        }
    }
}

/// A base's chat template and the token texts it may refer to.
#[derive(Debug, Clone)]
pub struct ChatTemplate {
    source: String,
    bos: String,
    eos: String,
}

impl ChatTemplate {
    /// A template from its Jinja source; it is compiled once here so a broken template is
    /// refused when the base is opened, not at the first chat.
    pub fn new(source: String, bos: String, eos: String) -> Result<Self> {
        if source.len() > MAX_TEMPLATE_BYTES {
            return Err(RuntimeError::ChatTemplate(format!(
                "the template is {} bytes, more than the {MAX_TEMPLATE_BYTES} allowed",
                source.len()
            )));
        }
        let template = Self { source, bos, eos };
        template
            .environment()
            .template_from_str(&template.source)
            .map_err(|e| {
                RuntimeError::ChatTemplate(format!("the template does not compile: {e}"))
            })?;
        Ok(template)
    }

    /// The prompt text for `messages`; `add_generation_prompt` opens the assistant's turn.
    pub fn render(&self, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<String> {
        let env = self.environment();
        let template = env
            .template_from_str(&self.source)
            .map_err(|e| RuntimeError::ChatTemplate(e.to_string()))?;
        template
            .render(context! {
                messages => messages.iter().map(ChatMessage::to_value).collect::<Vec<_>>(),
                add_generation_prompt => add_generation_prompt,
                bos_token => self.bos.as_str(),
                eos_token => self.eos.as_str(),
            })
            .map_err(|e| RuntimeError::ChatTemplate(format!("cannot render: {e}")))
    }

    fn environment(&self) -> Environment<'static> {
        let mut env = Environment::new();
        env.set_fuel(Some(FUEL));
        env.add_function(
            "raise_exception",
            |message: String| -> std::result::Result<String, minijinja::Error> {
                Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
            },
        );
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    #[test]
    fn chatml_wraps_a_user_turn_and_opens_the_assistant_s() {
        let t = ChatTemplate::new(CHATML.into(), "<s>".into(), "</s>".into()).unwrap();
        let text = t.render(&[ChatMessage::user("hi")], true).unwrap();
        assert_eq!(
            text,
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn a_template_that_never_ends_runs_out_of_fuel() {
        let forever =
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
        let t = ChatTemplate::new(forever.into(), String::new(), String::new()).unwrap();
        let err = t.render(&[ChatMessage::user("hi")], true).unwrap_err();
        assert!(err.to_string().contains("cannot render"), "{err}");
    }

    #[test]
    fn a_broken_template_is_refused_when_opened() {
        let err = ChatTemplate::new("{% for %}".into(), String::new(), String::new()).unwrap_err();
        assert!(err.to_string().contains("does not compile"), "{err}");
    }

    #[test]
    fn raise_exception_is_an_error_with_its_message() {
        let t = ChatTemplate::new(
            "{{ raise_exception('only user turns') }}".into(),
            String::new(),
            String::new(),
        )
        .unwrap();
        let err = t.render(&[], false).unwrap_err();
        assert!(err.to_string().contains("only user turns"), "{err}");
    }
}
