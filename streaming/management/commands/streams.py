"""List live sessions with each destination's state; --stop <id> stops one."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from streaming import actions
from streaming.models import StreamSession


class Command(BaseCommand):
    help = "List live stream sessions and their destinations; --stop ID stops a session."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--stop", type=int, metavar="ID", help="stop this session")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["stop"] is not None:
            if not actions.stop_session(options["stop"]):
                raise CommandError(f"Session {options['stop']} is not live.")
            self.stdout.write(f"Stopping session {options['stop']}.")
            return
        sessions = StreamSession.objects.filter(state__in=StreamSession.ACTIVE).select_related("user")
        for session in sessions:
            self.stdout.write(f"#{session.pk} {session.user} on {session.node}: {session.state}")
            for dest in session.destinations.all():
                extra = f" — {dest.error_message}" if dest.error_message else ""
                self.stdout.write(f"    {dest.label}: {dest.state} ({dest.rendition or 'copy'}){extra}")
        self.stdout.write(f"{len(sessions)} live session(s).")
