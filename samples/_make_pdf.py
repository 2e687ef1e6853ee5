"""Generate samples/user-guide.pdf, the three-page Quillfeather user guide.

Run from anywhere:  .venv/bin/python samples/_make_pdf.py
Page 1: editor and shortcuts, page 2: sharing and permissions, page 3: mobile app and offline sync.
The output is reproducible (reportlab's invariant mode: fixed dates and document id).
"""

from __future__ import annotations

from pathlib import Path

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

rl_config.invariant = 1

OUT = Path(__file__).resolve().parent / "user-guide.pdf"

styles = getSampleStyleSheet()
H1, H2, BODY = styles["Heading1"], styles["Heading2"], styles["BodyText"]


def p(text: str) -> Paragraph:
    return Paragraph(text, BODY)


def table(rows: list[list[str]], widths: list[float]) -> Table:
    t = Table([[Paragraph(c, BODY) for c in row] for row in rows], colWidths=widths)
    t.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e4f3")),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return t


def footer(canvas, doc) -> None:  # type: ignore[no-untyped-def]
    canvas.saveState()
    canvas.setFont("Helvetica", 8)
    canvas.drawString(2 * cm, 1.2 * cm, "Quillfeather User Guide - version 2.3 - Larkspur Labs")
    canvas.drawRightString(A4[0] - 2 * cm, 1.2 * cm, f"Page {doc.page}")
    canvas.restoreState()


PAGE_1 = [
    Paragraph("Quillfeather User Guide", styles["Title"]),
    Paragraph("1. The editor", H1),
    p(
        "Every Quillfeather page is edited in place: click anywhere in a page and start typing. "
        "The editor is built from blocks. Type a slash (/) at the start of an empty line to open "
        "the block menu and choose among more than 30 block types, including headings, checklists, "
        "tables, callouts, toggles, embedded files and code blocks with syntax highlighting for "
        "40 programming languages."
    ),
    p(
        "If you know Markdown you can keep your habits: type # and a space for a heading, - and a "
        "space for a bulleted list, [] for a checklist item, &gt; for a quote and three backticks "
        "for a code block. The editor converts the text into the matching block as you type."
    ),
    p(
        "There is no Save button. Your changes are saved automatically two seconds after you stop "
        "typing, and the word Saved appears next to the page title. A single page can hold up to "
        "500,000 characters; split longer documents into subpages."
    ),
    p(
        "To link to another page, type two opening square brackets ([[) and start typing its "
        "title. The Backlinks panel at the bottom of every page lists the pages that link to it. "
        "Quillfeather ships with 18 built-in templates; to turn any page into your own template, "
        "open the page menu (the three dots at the top right) and choose Save as template."
    ),
    Paragraph("Keyboard shortcuts", H2),
    table(
        [
            ["Action", "Windows and Linux", "macOS"],
            ["Quick switcher (jump to a page)", "Ctrl+P", "Cmd+P"],
            ["Insert or edit a link", "Ctrl+K", "Cmd+K"],
            ["Heading 1, 2 or 3", "Ctrl+Alt+1 / 2 / 3", "Cmd+Option+1 / 2 / 3"],
            ["Turn line into a checklist item", "Ctrl+Shift+9", "Cmd+Shift+9"],
            ["Add a comment on the selection", "Ctrl+Alt+M", "Cmd+Option+M"],
            ["Open page history", "Ctrl+Shift+H", "Cmd+Shift+H"],
            ["Focus mode (hide sidebars)", "Ctrl+Shift+F", "Cmd+Shift+F"],
            ["Show all shortcuts", "Ctrl+/", "Cmd+/"],
        ],
        [7 * cm, 4.5 * cm, 4.5 * cm],
    ),
    Spacer(1, 0.3 * cm),
    p(
        "Page history shows every saved version with its author. Select a version to see the "
        "differences highlighted, then click Restore this version to bring it back; the current "
        "text is kept as a version too, so restoring never loses work."
    ),
]

PAGE_2 = [
    Paragraph("2. Sharing and permissions", H1),
    p(
        "Pages live in spaces, and access is granted per space. Each member of a space has one of "
        "four roles:"
    ),
    table(
        [
            ["Role", "What it allows"],
            ["Space admin", "everything an Editor can do, plus managing members, settings and "
             "deleting the space"],
            ["Editor", "create, edit, move and delete pages"],
            ["Commenter", "read pages and add comments"],
            ["Viewer", "read pages only"],
        ],
        [4 * cm, 12 * cm],
    ),
    Spacer(1, 0.3 * cm),
    p(
        "Whoever creates a space becomes its Space admin. A space is either Open, in which case "
        "every workspace member can read it with the Viewer role, or Private, in which case only "
        "people added explicitly can see that it exists."
    ),
    Paragraph("Page permissions", H2),
    p(
        "Open the Share menu of a page to change who can see it. You can restrict a page to "
        "named people, or give one extra person edit rights on a single page without adding them "
        "to the whole space. Restrictions are inherited by all subpages of that page. A lock icon "
        "in the sidebar marks restricted pages."
    ),
    Paragraph("Guests", H2),
    p(
        "Guests are people outside your organisation, such as contractors or customers. A guest "
        "is invited to specific spaces only and can have at most the Commenter role. Guests cannot "
        "see the member directory, and their avatar carries a Guest badge everywhere."
    ),
    Paragraph("Public links", H2),
    p(
        "Share › Publish to web creates a read-only link that works without an account. Public "
        "links expire after 7 days unless you choose otherwise: 1 day, 7 days, 30 days or never. "
        "You can protect a link with a password and revoke it at any time. Administrators can turn "
        "off public links for the whole workspace under Admin › Sharing."
    ),
    Paragraph("Mentions and notifications", H2),
    p(
        "Type @ followed by a name to mention a colleague; they are notified in the app at once. "
        "Click Watch at the top of a page to be told about every change to it. Notifications you "
        "have not read within the app are bundled into an e-mail digest sent every 4 hours; each "
        "person can switch the digest off under Settings › Notifications."
    ),
]

PAGE_3 = [
    Paragraph("3. Mobile app and offline sync", H1),
    p(
        "Quillfeather Mobile is free from the App Store and Google Play. It requires iOS 16 or "
        "later, or Android 10 or later, and it connects to your server over HTTPS only."
    ),
    Paragraph("Connecting a phone", H2),
    p(
        "In the web interface open Settings › Devices › Add device to display a QR code, then scan "
        "it with the app. The code is valid for 10 minutes. You can also type the server address "
        "and sign in with your password or through single sign-on."
    ),
    Paragraph("Working offline", H2),
    p(
        "The app keeps your starred pages and the 200 pages you opened most recently available "
        "without a connection. The offline cache uses at most 1 GB by default; change it in the "
        "app under Settings › Storage to any size between 250 MB and 10 GB. Attachments larger "
        "than 25 MB are not cached ahead of time and download only when you open them."
    ),
    p(
        "While offline you can read and edit cached pages and create new ones. Search only covers "
        "cached pages, and changing permissions or creating spaces needs a connection. Edits are "
        "queued on the phone and sent as soon as the connection returns; on Android the app also "
        "syncs in the background every 15 minutes."
    ),
    Paragraph("Sync conflicts", H2),
    p(
        "If someone changed the same page while you were offline, Quillfeather never overwrites "
        "either version. Your version is saved next to the original as a conflict copy whose "
        "title ends with (conflict copy from DEVICE NAME). Compare the two, merge by hand and "
        "delete the copy."
    ),
    Paragraph("Security on the phone", H2),
    p(
        "Turn on App lock to require Face ID, Touch ID or the fingerprint sensor; the app then "
        "locks after 5 minutes in the background. If a phone is lost, an administrator opens "
        "Admin › Members, picks the person, and chooses Devices › Wipe: the cached pages are erased "
        "the next time the phone goes online. A device that has not synced for 90 days is signed "
        "out automatically."
    ),
]


def main() -> None:
    doc = SimpleDocTemplate(
        str(OUT),
        pagesize=A4,
        title="Quillfeather User Guide",
        author="Larkspur Labs",
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=2 * cm,
        bottomMargin=2 * cm,
    )
    doc.build([*PAGE_1, PageBreak(), *PAGE_2, PageBreak(), *PAGE_3], onFirstPage=footer, onLaterPages=footer)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
