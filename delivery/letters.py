"""What the message says, in Traditional Chinese and English: what is attached, how to keep it
(download the attachment itself: "print to PDF" changes the bytes), where to verify it and what
the answers mean, and for an order its note, WES reference number and application id."""

from __future__ import annotations

from dataclasses import dataclass

from certseal.doctypes import DocumentType


@dataclass(frozen=True)
class LetterFacts:
    school_zh: str
    school_en: str
    registrar_zh: str
    registrar_en: str
    verify_url: str
    doc_type: DocumentType
    doc_id: str
    version: int
    holder_zh: str
    holder_en: str
    verification_limit: int | None
    recipient_kind: str  # school | personal | original | copy | institution | resend
    order_id: str | None = None
    note: str = ""
    wes_ref: str | None = None
    asuid: str | None = None
    english_first: bool = False


def subject(f: LetterFacts) -> str:
    return (
        f"【{f.school_zh}】{f.doc_type.name_zh} / {f.school_en}: {f.doc_type.name_en} ({f.doc_id})"
    )


def _zh(f: LetterFacts) -> str:
    if f.order_id is None:
        opening = (
            f"{f.holder_zh} 您好：\n\n附件是{f.school_zh}核發給您的數位{f.doc_type.name_zh}"
            f"（文件字號 {f.doc_id}）。"
        )
    else:
        opening = (
            f"您好：\n\n依申請單 {f.order_id}，{f.school_zh}寄送 {f.holder_zh} 的電子"
            f"{f.doc_type.name_zh}（文件字號 {f.doc_id}），如附件。"
        )
    lines = [opening]
    if f.version > 1:
        lines.append(f"這是補發的第 {f.version} 版，先前的版本已不是最新版本。")
    if f.note:
        lines.append(f"給收件者的備註：{f.note}")
    if f.wes_ref:
        lines.append(f"WES Reference No. {f.wes_ref}（本校另以 SFTP 上傳至 WES）")
    if f.asuid:
        lines.append(f"收件學校申請編號（Application ID / ASUID）：{f.asuid}")
    lines.append(
        "請以「下載附件」的方式保存這個 PDF 檔，不要用「列印→另存新檔」：那樣會改變檔案內容，"
        "驗證將無法通過。"
    )
    limit = f"每份電子文件可驗證 {f.verification_limit} 次。" if f.verification_limit else ""
    lines.append(
        f"任何人都可以到本校驗證網站上傳此檔案查核真偽：{f.verify_url}\n"
        "「成功」表示文件由本校核發且未經修改；「警告」表示已有較新版本或驗證次數已用完；"
        f"「失敗」表示檔案不是本校核發、已被修改或已作廢。{limit}"
    )
    lines.append(
        f"若附件有誤或未收到，請與{f.registrar_zh}聯絡。本信件由系統自動寄出，請勿直接回覆。"
    )
    return "\n\n".join(lines)


def _en(f: LetterFacts) -> str:
    if f.order_id is None:
        opening = (
            f"Dear {f.holder_en},\n\nAttached is the digital {f.doc_type.in_sentence()} "
            f"{f.school_en} issued to you (document number {f.doc_id})."
        )
    else:
        opening = (
            f"Dear recipient,\n\nAs requested in order {f.order_id}, {f.school_en} sends you the "
            f"electronic {f.doc_type.in_sentence()} of {f.holder_en} (document number "
            f"{f.doc_id}), attached."
        )
    lines = [opening]
    if f.version > 1:
        lines.append(f"This is version {f.version}, a reissue: earlier versions are outdated.")
    if f.note:
        lines.append(f"Note to the recipient: {f.note}")
    if f.wes_ref:
        lines.append(f"WES Reference No. {f.wes_ref} (the school also uploads it to WES by SFTP)")
    if f.asuid:
        lines.append(f"Recipient school's application id (ASUID): {f.asuid}")
    lines.append(
        "Save the PDF with 'download attachment', not 'print to PDF': printing changes the "
        "file's bytes and verification then fails."
    )
    limit = (
        f" Each electronic document can be verified {f.verification_limit} times."
        if f.verification_limit
        else ""
    )
    lines.append(
        f"Anyone can check it by uploading the file to the school's verification site: "
        f"{f.verify_url}\n'Success' means the school issued it and it is unchanged; 'warning' "
        "means a newer version exists or its verifications are used up; 'failure' means it "
        f"was not issued by the school, was modified, or was voided.{limit}"
    )
    lines.append(
        f"If the attachment is wrong or missing, contact the {f.registrar_en}. This message was "
        "sent automatically; please do not reply to it."
    )
    return "\n\n".join(lines)


def body(f: LetterFacts) -> str:
    parts = [_en(f), _zh(f)] if f.english_first else [_zh(f), _en(f)]
    return f"{parts[0]}\n\n{'-' * 40}\n\n{parts[1]}\n"
