"""The data and model sections of a report: what was attacked, in plain words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..text import code
from .blocks import Block, paragraph, table
from .blocks import heading as _h
from .document import epsilon_text
from .tables import cleaning_rows
from .threat import listing

__all__ = ["data_section", "model_section"]


def data_section(dataset: Mapping[str, Any]) -> list[Block]:
    name = code(dataset.get("name", "?"))
    title = f"{dataset['title']} ({name})" if dataset.get("title") else name
    text = f"{title}: {dataset.get('rows', '?')} rows"
    if dataset.get("raw_rows"):
        text += f" after cleaning ({dataset['raw_rows']} before)"
    text += "."
    splits = dataset.get("splits") or {}
    roles = {"members": "train the target model", "non_members": "held out from training",
             "reference": "the attacker's sample of the population"}
    if splits:
        text += " Split into " + ", ".join(
            f"{n} {part.replace('_', '-')} ({roles.get(part, 'other')})"
            for part, n in splits.items()) + "."
    if dataset.get("reference_source"):
        text += (" The members and non-members are the model owner's; the reference sample"
                 f" is {dataset['reference_source']}.")
    blocks = [_h("Data"), paragraph(text)]
    if dataset.get("bounds_from_data"):
        blocks.append(Block("warning", (
            "The numeric bounds of " + listing(dataset["bounds_from_data"]) + " were taken "
            "from the data by tabinv card draft, not from public knowledge: values outside "
            "them are refused or counted, and differentially private training refuses them "
            "until a person replaces them with public bounds.")))
    blocks += table(("cleaning step", "rows dropped", "rows changed"), cleaning_rows(dataset))
    if dataset.get("citation"):
        blocks.append(paragraph(f"Source: {dataset['citation']}"))
    return blocks


_DP_FACTS = (("dp_estimator", "private estimator"), ("library", "library"),
             ("mechanism", "mechanism"), ("bounds", "feature bounds"),
             ("dp_scope", "what is private"), ("epsilon_spent", "epsilon spent"))


def model_section(model: Mapping[str, Any]) -> list[Block]:
    kind = ", ".join(str(model[k]) for k in ("estimator", "task")
                     if model.get(k) and model[k] != model.get("family"))
    text = (f"{model.get('family', '?')}{f' ({kind})' if kind else ''} predicting "
            f"{code(model.get('label', '?'))}")
    if model.get("target_transform") not in (None, "identity"):
        text += f" (on the {model['target_transform']} scale)"
    if model.get("features"):
        text += " from " + listing(model["features"])
    if model.get("n_train") and model.get("model_source"):
        text += (f"; not trained by tabinv: its published statistics are computed on "
                 f"{model['n_train']} records with the label")
    elif model.get("n_train"):
        text += f"; trained on {model['n_train']} members"
    if model.get("epsilon") is not None:
        text += f"; differentially private at epsilon {epsilon_text(model['epsilon'])}"
    facts = tuple(f"{label}: {model[key]}" for key, label in _DP_FACTS
                  if model.get(key) is not None) + _source_facts(model)
    return [_h("Model"), paragraph(text + "."), *([Block("list", items=facts)] if facts else [])]


def _source_facts(model: Mapping[str, Any]) -> tuple[str, ...]:
    """Where a model tabinv did not train came from, what it reveals, its own names."""
    facts = []
    if model.get("model_source"):
        facts.append(f"opened from: {code(model['model_source'])}")
    if model.get("reveals"):
        facts.append(f"reveals: {model['reveals']}")
    if model.get("feature_map"):
        facts.append("its own input names: " + ", ".join(
            f"{code(k)} as {code(v)}" for k, v in dict(model["feature_map"]).items()))
    if model.get("preprocessing"):
        facts.append(f"preprocessing: {model['preprocessing']}")
    if model.get("structure"):
        facts.append(f"white-box attacks: not possible, {model['structure']}")
    if model.get("card_features_not_taken_by_the_model"):
        facts.append("card features it does not take: "
                     + listing(model["card_features_not_taken_by_the_model"]))
    return tuple(facts)
