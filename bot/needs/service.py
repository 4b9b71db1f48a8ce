"""NeedsService: the form over the database, matching, sending a profile to consultants, notes and records.

Free of Telegram types: answers come in as text or callback data, screens go out as `prompts.Screen`. Every
answer is written as given (needs_answers) in the same transaction as the state it moves the form to.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.i18n import t
from bot.needs import form, prompts, render
from bot.needs.matcher import Match, match, size_of
from bot.needs.models import DRAFT, WORKFLOW, NeedsAnswer, NeedsNote, NeedsProfile, now
from bot.needs.profile import Profile
from bot.needs.prompts import Screen
from bot.needs.rules import Rules


@dataclass
class Record:
    """A profile as staff tools read it."""

    id: int
    user_id: int
    user_name: str
    language: str
    status: str
    size_class: str
    topic: str
    ticket_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    submitted_at: dt.datetime | None
    consent_at: dt.datetime | None
    profile: Profile
    notes: list[dict]


class NeedsService:
    def __init__(self, settings, store, handoff, rules: Rules) -> None:
        self.settings = settings
        self.session = store.session
        self.handoff = handoff
        self.rules = rules
        # One owner's answers take turns (two quick taps on a checklist must both count); on PostgreSQL the
        # profile row is also locked, for several bot processes.
        self._locks = [threading.Lock() for _ in range(64)]

    def _turn(self, user_id: int) -> threading.Lock:
        return self._locks[user_id % len(self._locks)]

    # -- the owner's form ----------------------------------------------------------
    def start(self, user_id: int, user_name: str, lang: str) -> Screen:
        """/nhucau: a new form, the draft resumed, or the submitted profile with what can be done with it."""
        with self._turn(user_id), self.session.begin() as s:
            row = _row(s, user_id)
            if row is None:
                row = NeedsProfile(user_id=user_id, user_name=user_name[:128], language=lang, step="company")
                row.active, row.data = True, Profile().to_json()
                s.add(row)
                s.flush()
                screen = prompts.question("company", Profile(), row.id, lang)
                return Screen(t(lang, "needs.intro") + "\n\n" + screen.text, screen.buttons)
            row.language, row.user_name = lang, user_name[:128] or row.user_name
            profile = Profile.from_json(row.data)
            if row.submitted_at is None or row.active:
                row.active, row.step = True, row.step or "company"
                screen = prompts.question(row.step, profile, row.id, lang)
                return Screen(t(lang, "needs.resume") + "\n\n" + screen.text, screen.buttons)
            return self._existing(row, profile)

    def is_active(self, user_id: int) -> bool:
        """Whether the owner's typed text is an answer to the form."""
        with self.session() as s:
            return bool(s.scalar(select(NeedsProfile.active).where(NeedsProfile.user_id == user_id)))

    def on_text(self, user_id: int, text: str, source_key: str | None = None) -> Screen | None:
        """A typed answer; None when the owner is not in the form (the message is a question for the bot)."""
        try:
            with self._turn(user_id), self.session.begin() as s:
                row = _row(s, user_id)
                if row is None or not row.active:
                    return None
                answer = self._record(s, row, "text", text, source_key)
                if answer is None:
                    return Screen()  # the same message again (redelivered after a restart): already answered
                return self._answer(s, row, answer)
        except IntegrityError:
            return Screen()

    def on_button(self, user_id: int, user_name: str, data: str, lang: str, source_key: str | None = None) -> Screen:
        """A pressed button: `nf:` answers a step, `nd:` is an action."""
        kind, _, rest = data.partition(":")
        pid_text, _, rest = rest.partition(":")
        action, _, arg = rest.partition(":")
        if kind == "nd" and action == "start":
            return self.start(user_id, user_name, lang)
        if kind == "nd" and action == "send":
            return self.send_to_consultants(user_id, user_name, source_key)
        try:
            with self._turn(user_id), self.session.begin() as s:
                row = _row(s, user_id)
                if row is None or not pid_text.isdigit() or row.id != int(pid_text):
                    return Screen(toast=t(lang, "needs.stale"))
                if kind == "nf":
                    if not row.active or row.step != action:
                        return Screen(toast=t(row.language, "needs.stale"))
                    answer = self._record(s, row, "button", arg, source_key)
                    if answer is None:
                        return Screen()
                    return self._answer(s, row, answer)
                return self._action(s, row, action, arg)
        except IntegrityError:
            return Screen()

    def leave(self, user_id: int, lang: str) -> Screen:
        """/huy: out of the form; the answers and the step stay, for /nhucau to resume."""
        with self.session.begin() as s:
            row = _row(s, user_id)
            if row is None or not row.active:
                return Screen(t(lang, "needs.not_in_form"))
            row.active = False
            return Screen(t(row.language, "needs.left"))

    @staticmethod
    def _record(s: Session, row: NeedsProfile, kind: str, raw: str, source_key: str | None) -> NeedsAnswer | None:
        """Store the answer as given; None when this update was stored before."""
        if source_key and s.scalar(select(NeedsAnswer.id).where(NeedsAnswer.source_key == source_key)):
            return None
        answer = NeedsAnswer(
            profile_id=row.id, user_id=row.user_id, step=row.step, kind=kind, raw=raw[:2000], source_key=source_key
        )
        s.add(answer)
        s.flush()  # a concurrent copy of the same update fails here, before anything else changes
        return answer

    def _answer(self, s: Session, row: NeedsProfile, answer: NeedsAnswer) -> Screen:
        lang, profile = row.language, Profile.from_json(row.data)
        kind, raw = answer.kind, answer.raw
        if row.step == form.REVIEW:
            screen = prompts.review(profile, row.id, lang)
            return Screen(t(lang, "needs.error_button") + "\n\n" + screen.text, screen.buttons)
        result = form.accept(row.step, kind, raw, profile)
        for key, value in result.changes.items():
            setattr(profile, key, value)
        row.data, row.updated_at = profile.to_json(), now()
        answer.value = {"error": result.error} if result.error else dict(result.changes)
        if "consent_contact" in result.changes:
            row.consent_at = now() if profile.consent_contact or profile.consent_share else None
        if result.error:
            screen = prompts.question(row.step, profile, row.id, lang)
            return Screen(t(lang, f"needs.{result.error}") + "\n\n" + screen.text, screen.buttons)
        if not result.done:  # a checklist item ticked: the same question, its buttons redrawn
            return Screen(buttons=prompts.keyboard(row.step, profile, row.id, lang), edit=True)
        decided = size_of(profile, self.rules).size_class != "unknown"
        row.step = form.after(row.step, profile, row.editing, decided)
        if row.step == form.REVIEW:
            row.editing = False
        return prompts.question(row.step, profile, row.id, lang)

    def _action(self, s: Session, row: NeedsProfile, action: str, arg: str) -> Screen:
        lang, profile = row.language, Profile.from_json(row.data)
        if action == "submit":
            if not row.active or row.step != form.REVIEW:
                return Screen(toast=t(lang, "needs.stale"))
            return self._submit(row, profile)
        if action == "menu":
            return prompts.edit_menu(row.id, lang)
        if action == "edit" and arg in form.STEPS:
            row.active, row.editing, row.step = True, True, arg
            return prompts.question(arg, profile, row.id, lang)
        if action == "review":
            if row.active:
                return prompts.question(row.step, profile, row.id, lang)
            return self._existing(row, profile)
        if action == "programmes" and row.submitted_at is not None:
            return Screen(
                render.matches(self.match(profile, lang), lang), prompts.profile_actions(profile, row.id, lang)
            )
        return Screen(toast=t(lang, "needs.stale"))

    def _submit(self, row: NeedsProfile, profile: Profile) -> Screen:
        lang, found = row.language, self.match(profile, row.language)
        at = now()
        row.active, row.editing, row.step = False, False, ""
        row.size_class, row.updated_at = found.size.size_class, at
        row.submitted_at = row.submitted_at or at
        row.status = "new" if row.status == DRAFT else row.status
        row.topic = self.topic(profile)
        text = t(lang, "needs.submitted", id=row.id) + "\n\n" + render.matches(found, lang)
        return Screen(text, prompts.profile_actions(profile, row.id, lang))

    def _existing(self, row: NeedsProfile, profile: Profile) -> Screen:
        lang = row.language
        buttons = [[(t(lang, "needs.btn_programmes"), f"nd:{row.id}:programmes")]]
        text = t(lang, "needs.existing", id=row.id, summary=render.summary(profile, lang))
        return Screen(text, buttons + prompts.profile_actions(profile, row.id, lang))

    # -- matching and the consultants ---------------------------------------------------
    def match(self, profile: Profile, lang: str = "vi") -> Match:
        return match(profile, self.rules, lang)

    def topic(self, profile: Profile) -> str:
        """The consultants' topic of the first need the owner ticked."""
        return self.rules.topics.get(profile.needs[0], "other") if profile.needs else "other"

    def send_to_consultants(self, user_id: int, user_name: str, origin_key: str | None = None) -> Screen:
        """A ticket with the profile on its card, routed by the need's topic (the handoff does the rest)."""
        with self.session() as s:
            row = _row(s, user_id)
            if row is None or row.submitted_at is None:
                return Screen(t(row.language if row else None, "needs.not_submitted"))
            profile, pid, lang = Profile.from_json(row.data), row.id, row.language
        if not profile.consent_share:
            return Screen(t(lang, "needs.no_share"), prompts.profile_actions(profile, pid, lang))
        topic = self.topic(profile)
        brief = render.brief(pid, profile, self.match(profile, render.STAFF))
        intake = " — ".join(part for part in (profile.company, profile.province) if part)
        outcome = self.handoff.request(
            user_id, user_name, "needs", origin_key, lang, topic=topic, brief=brief, intake=intake
        )
        with self.session.begin() as s:
            row = s.get(NeedsProfile, pid)
            if row is not None and outcome.ticket_id:
                row.ticket_id, row.topic = outcome.ticket_id, topic
        return Screen(outcome=outcome)

    def add_note(self, profile_id: int, author_id: int, author_name: str, text: str, status: str = "") -> str:
        """A consultant's note and/or a new status; the reply for the consultant (HTML)."""
        if status and status not in WORKFLOW:
            return render.e(t(render.STAFF, "needs.status_usage"))
        with self.session.begin() as s:
            row = s.get(NeedsProfile, profile_id)
            if row is None:
                return t(render.STAFF, "needs.not_found", id=profile_id)
            s.add(
                NeedsNote(
                    profile_id=row.id,
                    author_id=author_id,
                    author_name=author_name[:128],
                    text=text[:2000],
                    status=status,
                )
            )
            if status:
                row.status = status
                return t(render.STAFF, "needs.status_set", id=row.id, status=t(render.STAFF, f"needs.status_{status}"))
            return t(render.STAFF, "needs.noted", id=row.id)

    def show(self, profile_id: int) -> str:
        """A profile with its notes, for consultants and admins (HTML)."""
        records = self.records(ids=[profile_id])
        if not records:
            return t(render.STAFF, "needs.not_found", id=profile_id)
        r, tz = records[0], ZoneInfo(self.settings.timezone)
        notes = [t(render.STAFF, "needs.notes_head")] + [
            f"• {n['time'].astimezone(tz):%d/%m %H:%M} {render.e(n['author'])}: "
            + render.e(n["text"])
            + (f" [{render.e(t(render.STAFF, 'needs.status_' + n['status']))}]" if n["status"] else "")
            for n in r.notes
        ]
        return t(
            render.STAFF,
            "needs.show",
            id=r.id,
            status=render.e(t(render.STAFF, f"needs.status_{r.status}")),
            size=render.e(render.size_label(r.size_class, render.STAFF)),
            summary=render.summary(r.profile, render.STAFF),
            notes="\n".join(notes) if r.notes else t(render.STAFF, "needs.notes_none"),
        )

    # -- staff -----------------------------------------------------------------------------
    def records(
        self,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        ids: list[int] | None = None,
    ) -> list[Record]:
        """Profiles (drafts too) created or submitted in [since, until), oldest first, with their notes."""
        query = select(NeedsProfile).order_by(NeedsProfile.id)
        if ids is not None:
            query = query.where(NeedsProfile.id.in_(ids))
        when = func.coalesce(NeedsProfile.submitted_at, NeedsProfile.created_at)
        if since is not None:
            query = query.where(when >= since)
        if until is not None:
            query = query.where(when < until)
        with self.session() as s:
            rows = list(s.scalars(query))
            notes: dict[int, list[dict]] = {}
            if rows:
                for n in s.scalars(
                    select(NeedsNote).where(NeedsNote.profile_id.in_([r.id for r in rows])).order_by(NeedsNote.id)
                ):
                    notes.setdefault(n.profile_id, []).append(
                        {
                            "time": _utc(n.created_at),
                            "author": n.author_name or str(n.author_id),
                            "author_id": n.author_id,
                            "text": n.text,
                            "status": n.status,
                        }
                    )
        return [
            Record(
                r.id,
                r.user_id,
                r.user_name,
                r.language,
                r.status,
                r.size_class,
                r.topic,
                r.ticket_id,
                _utc(r.created_at),
                _utc(r.updated_at),
                _utc(r.submitted_at),
                _utc(r.consent_at),
                Profile.from_json(r.data or {}),
                notes.get(r.id, []),
            )
            for r in rows
        ]

    def answers(self, profile_ids: list[int]) -> list[dict]:
        """Every answer as given, for the raw export."""
        if not profile_ids:
            return []
        with self.session() as s:
            rows = s.scalars(
                select(NeedsAnswer).where(NeedsAnswer.profile_id.in_(profile_ids)).order_by(NeedsAnswer.id)
            )
            return [
                {
                    "profile_id": a.profile_id,
                    "time": _utc(a.created_at),
                    "step": a.step,
                    "kind": a.kind,
                    "raw": a.raw,
                    "value": a.value,
                }
                for a in rows
            ]


def _row(s: Session, user_id: int) -> NeedsProfile | None:
    """The owner's profile, locked until the transaction ends on PostgreSQL (SQLite ignores FOR UPDATE)."""
    return s.scalar(select(NeedsProfile).where(NeedsProfile.user_id == user_id).with_for_update())


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value
