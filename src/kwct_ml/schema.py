"""The label schema: the one place that names topics and stances (from the codebook)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Label:
    name: str
    description: str


TOPIC_LABELS: tuple[Label, ...] = (
    Label("terror_attack", "one specific attack, bombing, shooting or plot, and reactions aimed at it"),
    Label("ct_cooperation", "counter-terrorism policy and cooperation in general: coalitions, "
          "conferences, UN strategies, security cooperation, border security, arrests of cells"),
    Label("terror_financing", "financing of terrorism, money laundering, sanctions, terror lists, FATF"),
    Label("extremism", "extremist ideas, radicalisation, religion and tolerance, root causes, "
          "propaganda and recruitment"),
    Label("bilateral_relations", "relations between states not about terrorism: ties, visits, trade"),
    Label("humanitarian", "aid, relief, pandemic, refugees, civilians' suffering, development"),
    Label("regional_politics", "other political or security affairs of a region or country"),
    Label("other", "not article content: bylines, navigation, share buttons, comment prompts"),
)

STANCE_LABELS: tuple[Label, ...] = (
    Label("condemnation", "denounces or rejects terrorism, an attack, extremism or another's act"),
    Label("solidarity", "condolences, sympathy, prayers for victims, standing by a people"),
    Label("support", "backs, praises, welcomes or thanks another party, effort or decision"),
    Label("commitment", "affirms the speaker's own commitment or resolve, or calls on others to act"),
    Label("concern", "warns of a threat or danger, or expresses worry, without denouncing an act"),
    Label("neutral", "reports facts with no evaluative attitude; all non-content lines"),
)

TOPICS: tuple[str, ...] = tuple(label.name for label in TOPIC_LABELS)
STANCES: tuple[str, ...] = tuple(label.name for label in STANCE_LABELS)

#: Codebook tie-break orders: when a sentence fits several labels, the earlier one wins.
TOPIC_PRECEDENCE: tuple[str, ...] = (
    "terror_attack", "terror_financing", "extremism", "ct_cooperation", "humanitarian",
    "regional_politics", "bilateral_relations", "other",
)
STANCE_PRECEDENCE: tuple[str, ...] = STANCES

#: Labels that carry no content; summaries ignore them when picking a dominant label.
BACKGROUND = {"topic": "other", "stance": "neutral"}

TASKS: dict[str, tuple[str, ...]] = {"topic": TOPICS, "stance": STANCES}


def labels_for(task: str) -> tuple[str, ...]:
    """Label names of ``task`` ('topic' or 'stance') in schema order."""
    try:
        return TASKS[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(TASKS)}") from None
