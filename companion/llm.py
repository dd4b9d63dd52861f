"""The language model through llama-cpp-python: loaded once, streamed token by token.

Two prompt styles, chosen by the model's manifest entry:
- `chat`: an instruct model driven through its own chat template;
- `base`: a base model (the dev Gemma 270M) driven by a few-shot transcript and stop sequences.
Either way the prompt is built append-only — persona first, then whole exchanges, then the new words —
so llama.cpp finds the previous turn's tokens as a prefix of the next prompt and reuses its KV cache.
When the history must shrink, the oldest whole exchange goes; the persona prefix always stays.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from companion.errors import LlmError, MissingPackageError, ModelError

log = logging.getLogger(__name__)

PromptStyle = Literal["base", "chat"]


@dataclass(frozen=True)
class Persona:
    """Who the companion is, from dialogs/<lang>/persona.toml."""

    system: str
    person_label: str
    companion_label: str
    examples: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LlmOptions:
    model_path: Path
    style: PromptStyle
    context_tokens: int = 2048
    threads: int = 0
    max_reply_tokens: int = 96
    history_turns: int = 6
    prompt_tokens: int = 600
    """The prompt's budget: the oldest exchanges go first when persona, history and note exceed it."""
    temperature: float = 0.7
    seed: int = -1


def base_prompt(persona: Persona, history: list[tuple[str, str]], user_text: str, note: str = "") -> str:
    """The few-shot transcript. History replies are kept exactly as generated (leading space included), so
    the prompt repeats the very tokens the model produced and llama.cpp's cache prefix stays intact."""
    lines = [persona.system.strip(), ""]
    examples = [(person, f" {companion.strip()}") for person, companion in persona.examples]
    for person, companion in [*examples, *history]:
        lines += [f"{persona.person_label}: {person}", f"{persona.companion_label}:{companion}"]
    if note:
        # Last, just before the new words: the prefix before it stays what llama.cpp has cached.
        lines.append(f"({note})")
    lines += [f"{persona.person_label}: {user_text}", f"{persona.companion_label}:"]
    return "\n".join(lines)


def chat_messages(
    persona: Persona, history: list[tuple[str, str]], user_text: str, note: str = ""
) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": persona.system.strip()}]
    for person, companion in [*persona.examples, *history]:
        messages += [{"role": "user", "content": person}, {"role": "assistant", "content": companion.strip()}]
    messages.append({"role": "user", "content": f"{user_text}\n\n({note})" if note else user_text})
    return messages


def stop_sequences(persona: Persona) -> list[str]:
    # A base model happily writes the person's next line too; any of these means its own turn is over.
    return [f"\n{persona.person_label}:", f"{persona.person_label}:", "\n\n"]


class LlamaChat:
    """Short-term memory plus the model. Transcripts live only here, in RAM, for this conversation."""

    def __init__(self, options: LlmOptions, persona: Persona) -> None:
        self.options = options
        self.persona = persona
        self._llm: Any = None
        self._history: deque[tuple[str, str]] = deque(maxlen=options.history_turns)

    def start(self) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as error:
            raise MissingPackageError("llama_cpp", "llama-cpp-python") from error
        path = self.options.model_path
        if not path.is_file():
            raise ModelError(f"The language model is missing: {path}", "companion models install")
        try:
            self._llm = Llama(
                model_path=str(path),
                n_ctx=self.options.context_tokens,
                n_threads=self.options.threads or os.cpu_count() or 1,
                seed=self.options.seed,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as error:
            raise ModelError(
                f"The language model {path} could not be loaded ({error}).",
                "companion models verify, then companion models install",
            ) from error

    def warm_up(self) -> None:
        """Evaluate the persona prefix now, so the first real turn finds it in the KV cache."""
        if self._llm is None:
            self.start()
        if self.options.style == "chat":
            messages = chat_messages(self.persona, [], "")[:-1]
            self._llm.create_chat_completion(messages=messages, max_tokens=1)
        else:
            self._llm.create_completion(
                prompt=base_prompt(self.persona, [], "").rsplit("\n", 2)[0], max_tokens=1
            )

    def forget(self) -> None:
        """End the conversation: nothing said in it is kept."""
        self._history.clear()

    @property
    def history(self) -> list[tuple[str, str]]:
        """(what the person said, the reply exactly as generated) per exchange, oldest first."""
        return list(self._history)

    def add_exchange(self, user_text: str, reply: str) -> None:
        """An exchange the model did not write (a fixed line of the policy), so later small talk knows it."""
        if reply.strip() and self._history.maxlen != 0:
            self._history.append((user_text, f" {reply.strip()}"))

    def replace_last_reply(self, reply: str) -> None:
        """What was actually said, when the guard replaced part of the model's reply. The next prompt then
        differs from the cache from that exchange on; that costs a few tokens and keeps the model honest."""
        if self._history:
            user_text, _ = self._history.pop()
            self._history.append((user_text, f" {reply.strip()}"))

    def reply(self, user_text: str, note: str = "") -> Generator[str, None, None]:
        """Stream the reply's text pieces; the exchange joins the history once the stream ends or stops.
        `note` is context for this turn only (catalogue entries, the profile); it is not kept."""
        if self._llm is None:
            self.start()
        self._fit_history(user_text, note)
        pieces: list[str] = []
        try:
            for piece in self._stream(user_text, note):
                pieces.append(piece)
                yield piece
        except (RuntimeError, ValueError) as error:
            raise LlmError(f"The language model failed while answering: {error}") from error
        finally:
            # Also on an interrupt (GeneratorExit): what was generated is what the next prompt must show,
            # or the KV cache prefix would no longer match.
            reply = "".join(pieces).rstrip()
            if reply.strip() and self._history.maxlen != 0:
                self._history.append((user_text, reply))

    def _stream(self, user_text: str, note: str) -> Iterator[str]:
        common: dict[str, Any] = {
            "max_tokens": self.options.max_reply_tokens,
            "temperature": self.options.temperature,
            "stream": True,
        }
        history = list(self._history)
        if self.options.style == "chat":
            messages = chat_messages(self.persona, history, user_text, note)
            for part in self._llm.create_chat_completion(messages=messages, **common):
                text = part["choices"][0]["delta"].get("content")
                if text:
                    yield text
        else:
            prompt = base_prompt(self.persona, history, user_text, note)
            stops = stop_sequences(self.persona)
            for part in self._llm.create_completion(prompt=prompt, stop=stops, **common):
                text = part["choices"][0]["text"]
                if text:
                    yield text

    def _fit_history(self, user_text: str, note: str = "") -> None:
        """Drop the oldest whole exchanges until the prompt keeps to its budget and, with the reply, fits
        the context window."""
        budget = min(self.options.prompt_tokens, self.options.context_tokens - self.options.max_reply_tokens)
        while self.prompt_tokens(user_text, note) > budget:
            if not self._history:
                raise LlmError(
                    "What was said is too long for the language model's prompt budget.",
                    "Raise [llm] prompt_tokens (and context_tokens) in the settings.",
                )
            self._history.popleft()

    def prompt_tokens(self, user_text: str, note: str = "") -> int:
        """How many tokens the prompt for these words would take now (the benchmark reports it)."""
        if self._llm is None:
            self.start()
        history = list(self._history)
        if self.options.style == "chat":
            # The template adds a few tokens per message; 8 is generous for the templates we ship.
            messages = chat_messages(self.persona, history, user_text, note)
            text = "\n".join(m["content"] for m in messages)
            return len(self._llm.tokenize(text.encode("utf-8"))) + 8 * len(messages)
        prompt = base_prompt(self.persona, history, user_text, note)
        return len(self._llm.tokenize(prompt.encode("utf-8")))

    def close(self) -> None:
        if self._llm is not None:
            self._llm.close()
        self._llm = None
