//! The answering side of `run`: in this process or through a running `modularbase serve`,
//! one prompt or an interactive chat (`/exit`, `/pack ID`, `/debug`) whose history is kept
//! within the context window by dropping the oldest turns.

use std::io::{BufRead, Read as _};

use modularbase_pack::PackId;
use modularbase_runtime::{
    ChatMessage, ModelChoice, Prompt, Request, Runtime, RuntimeError, Sampling,
};
use serde_json::json;

use crate::cli::RunArgs;
use crate::printer::Printer;
use crate::serve_client::{ContextFull, ServeClient};

/// Who answers.
pub(crate) enum Backend {
    /// The runtime, loaded here.
    Local(Box<Runtime>),
    /// A running server, and its base's model name.
    Server(ServeClient, String),
}

/// One answer: its text and who gave it.
pub(crate) struct Turn {
    /// The answer.
    pub text: String,
    /// The pack that answered (`None`: the base alone).
    pub pack: Option<String>,
    /// Packs that could not be used, with causes.
    pub substitutions: Vec<(String, String)>,
}

/// Why a turn got no answer.
pub(crate) enum TurnError {
    /// The conversation no longer fits the context.
    ContextFull(String),
    /// Anything else.
    Other(anyhow::Error),
}

impl Backend {
    /// Answers `prompt` (a conversation when `chat`), streaming each piece to `on_text`.
    pub(crate) fn answer(
        &mut self,
        prompt: Prompt,
        pack: Option<&PackId>,
        args: &RunArgs,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Turn, TurnError> {
        match self {
            Self::Local(runtime) => {
                let request = Request {
                    prompt,
                    model: pack.cloned().map_or(ModelChoice::Routed, ModelChoice::Pack),
                    max_tokens: args.max_tokens,
                    sampling: Sampling {
                        temperature: args.temperature,
                        top_p: args.top_p,
                        seed: args.seed,
                    },
                    stop: Vec::new(),
                    keep_alive: None,
                    wait_for_room: false,
                };
                match runtime.answer(&request, &|_| Ok(()), on_text) {
                    Ok(report) => Ok(Turn {
                        text: report.text,
                        pack: report.used.map(|p| p.to_string()),
                        substitutions: report
                            .substitutions
                            .iter()
                            .map(|s| (s.wanted.to_string(), s.cause.to_string()))
                            .collect(),
                    }),
                    Err(e @ RuntimeError::PromptTooLong { .. }) => {
                        Err(TurnError::ContextFull(e.to_string()))
                    }
                    Err(e) => Err(TurnError::Other(e.into())),
                }
            }
            Self::Server(client, base) => {
                let model = pack.map_or_else(|| base.clone(), |p| format!("{base}+{p}"));
                let (chat, mut body) = match prompt {
                    Prompt::Chat(messages) => (true, json!({ "messages": messages })),
                    Prompt::Text(text) => (false, json!({ "prompt": text })),
                };
                body["model"] = json!(model);
                body["max_tokens"] = json!(args.max_tokens);
                body["temperature"] = json!(args.temperature);
                body["top_p"] = json!(args.top_p);
                body["seed"] = json!(args.seed);
                match client.stream(chat, body, on_text) {
                    Ok(answer) => Ok(Turn {
                        text: answer.text,
                        pack: answer.pack,
                        substitutions: answer.substitutions,
                    }),
                    Err(e) => match e.downcast::<ContextFull>() {
                        Ok(full) => Err(TurnError::ContextFull(full.0)),
                        Err(e) => Err(TurnError::Other(e)),
                    },
                }
            }
        }
    }
}

/// The longest message read from stdin in the chat.
const MAX_TURN_BYTES: u64 = 1 << 20;

/// The next line of `input`: `None` at its end, `Some(None)` for a line over
/// [`MAX_TURN_BYTES`] (read to its end and dropped, never held whole).
fn read_turn(input: &mut impl BufRead) -> std::io::Result<Option<Option<String>>> {
    let mut line = Vec::new();
    let read = input
        .by_ref()
        .take(MAX_TURN_BYTES + 1)
        .read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    if line.len() as u64 > MAX_TURN_BYTES {
        // Skip the rest of the line without keeping it.
        while !line.ends_with(b"\n") {
            line.clear();
            if input
                .by_ref()
                .take(MAX_TURN_BYTES)
                .read_until(b'\n', &mut line)?
                == 0
            {
                break;
            }
        }
        return Ok(Some(None));
    }
    Ok(Some(Some(String::from_utf8_lossy(&line).into_owned())))
}

/// The interactive chat: reads turns from stdin until `/exit` or its end.
pub(crate) fn repl(
    backend: &mut Backend,
    args: &RunArgs,
    forced: Option<PackId>,
    printer: &Printer,
) -> anyhow::Result<()> {
    let mut pack = forced;
    let mut debug = args.debug;
    let mut history: Vec<ChatMessage> = Vec::new();
    printer.note("chat: type a message; /pack ID forces a pack (/pack alone routes again), /debug shows who answers, /exit ends");
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    loop {
        printer.prompt(">>> ");
        let Some(line) = read_turn(&mut input)? else {
            return Ok(());
        };
        let Some(line) = line else {
            printer.warn(format!(
                "that message is over {MAX_TURN_BYTES} bytes and was not sent"
            ));
            continue;
        };
        let line = line.trim();
        match line.split_once(' ').unwrap_or((line, "")) {
            ("", _) => continue,
            ("/exit" | "/bye", _) => return Ok(()),
            ("/debug", _) => {
                debug = !debug;
                printer.note(format!("debug {}", if debug { "on" } else { "off" }));
                continue;
            }
            ("/pack", id) => {
                let id = id.trim();
                if id.is_empty() {
                    pack = None;
                    printer.note("routing each turn again");
                } else {
                    match id.parse::<PackId>() {
                        Ok(id) => {
                            printer.note(format!("answering with `{id}`"));
                            pack = Some(id);
                        }
                        Err(e) => printer.warn(format!("`{id}` is not a pack id: {e}")),
                    }
                }
                continue;
            }
            (command, _) if command.starts_with('/') => {
                printer.warn(format!(
                    "unknown command `{command}`; the commands are /exit, /pack ID and /debug"
                ));
                continue;
            }
            _ => {}
        }
        history.push(ChatMessage::user(line));
        let turn = loop {
            let prompt = Prompt::Chat(history.clone());
            match backend.answer(prompt, pack.as_ref(), args, &mut |piece| {
                printer.output_piece(piece)
            }) {
                Ok(turn) => break Some(turn),
                Err(TurnError::ContextFull(message)) if history.len() > 1 => {
                    // Forget the oldest exchange and try again: the window slides.
                    let drop = history.len().min(2).min(history.len() - 1);
                    history.drain(..drop);
                    printer.step(format!("{message}; forgetting the oldest turn"));
                }
                Err(TurnError::ContextFull(message)) => {
                    printer.warn(format!("{message}; the message was not sent"));
                    history.pop();
                    break None;
                }
                Err(TurnError::Other(e)) => {
                    history.pop();
                    printer.error(&e);
                    break None;
                }
            }
        };
        let Some(turn) = turn else {
            continue;
        };
        printer.output_piece("\n");
        for (wanted, cause) in &turn.substitutions {
            printer.warn(format!("pack `{wanted}` was not used: {cause}"));
        }
        if debug {
            printer.note(format!(
                "answered by {}",
                turn.pack
                    .as_deref()
                    .map_or("the base alone".to_owned(), |p| format!("`{p}`"))
            ));
        }
        history.push(ChatMessage {
            role: "assistant".to_owned(),
            content: turn.text,
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_line_over_the_bound_is_dropped_and_the_next_one_read() {
        let mut text = "x".repeat(MAX_TURN_BYTES as usize * 2 + 5).into_bytes();
        text.extend_from_slice(b"\nhello\n");
        let mut input = std::io::Cursor::new(text);
        assert_eq!(read_turn(&mut input).unwrap(), Some(None));
        assert_eq!(
            read_turn(&mut input).unwrap(),
            Some(Some("hello\n".to_owned()))
        );
        assert_eq!(read_turn(&mut input).unwrap(), None);
    }
}
