"""Every sentence the verifier shows a person, in English and Traditional Chinese, side by side.

Two languages, reviewed together by the registrar's office: a catalog in code keeps each pair
next to each other and lets the tests check that none is missing.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from certseal.catalog import load_strings
from certseal.timeutil import DEFAULT_TIME_ZONE, people_times

Lang = Literal["en", "zh-TW"]
LANGS: tuple[Lang, ...] = ("zh-TW", "en")

REASONS: dict[str, tuple[str, str]] = {
    "empty_file": (
        "The file is empty. Upload the PDF document itself.",
        "檔案是空的。請上傳 PDF 文件本身。",
    ),
    "too_large": (
        "The file is larger than {limit_mb} MB. Documents issued by the school are much smaller: "
        "check that you chose the right file.",
        "檔案超過 {limit_mb} MB。學校核發的文件遠小於此，請確認選擇的檔案是否正確。",
    ),
    "not_pdf": (
        "This is not a PDF file{kind}. Upload the PDF document you received.",
        "這不是 PDF 檔案{kind_zh}。請上傳您收到的 PDF 文件。",
    ),
    "zip_archive": (
        "This is a compressed archive ({kind}), not a PDF. Extract it first, then upload the PDF "
        "inside.",
        "這是壓縮檔（{kind}），不是 PDF。請先解壓縮，再上傳其中的 PDF 檔。",
    ),
    "malformed_pdf": (
        "The PDF file is damaged and cannot be read ({detail}). Download the original attachment "
        "again.",
        "PDF 檔案已損毀，無法讀取（{detail_zh}）。請重新下載原始附件。",
    ),
    "encrypted": (
        "The PDF is protected by a password we do not have. Documents issued by the school open "
        "without a password: upload the original file.",
        "此 PDF 以密碼保護，無法檢查。學校核發的文件不需密碼即可開啟，請上傳原始檔案。",
    ),
    "no_signature": (
        "The PDF carries no digital signature of the school. A printed or re-created copy cannot "
        "be verified: upload the original file received by e-mail.",
        "此 PDF 沒有學校的數位簽章。列印或重新製作的檔案無法驗證，請上傳以電子郵件收到的原始檔案。",
    ),
    "signature_invalid": (
        "The digital signature does not match the file's contents: the document was changed after "
        "it was signed.",
        "數位簽章與檔案內容不符：文件在簽章後遭到修改。",
    ),
    "modified_after_signing": (
        "Content was added to the file after it was signed ({detail}). The document has been "
        "altered.",
        "檔案在簽章後被加入了內容（{detail_zh}）。此文件已遭修改。",
    ),
    "untrusted_signer": (
        "The signature was not made by a school whose documents are verified here ({signer}).",
        "此簽章並非由本系統所驗證的學校所簽署（{signer}）。",
    ),
    "not_issued": (
        "These exact bytes were never issued by the school. If the file was re-saved or "
        '"printed to PDF", verification fails: use the original attachment from the e-mail.',
        "學校從未核發與此檔案完全相同的文件。若檔案經另存或「列印成 PDF」，驗證將失敗，"
        "請使用電子郵件中的原始附件。",
    ),
    "revoked": (
        "The school voided this document on {revoked_at}: {reason}.",
        "學校已於{revoked_at}將此文件作廢：{reason_zh}。",
    ),
    "status_unavailable": (
        "The school's status list could not be loaded, so the document's state cannot be "
        "checked right now. Try again later.",
        "目前無法載入學校的文件狀態清單，暫時無法確認文件狀態，請稍後再試。",
    ),
    "superseded": (
        "A newer version of this document was issued on {superseded_at}. Ask the holder for the "
        "latest version.",
        "此文件已於{superseded_at}核發新版本，非最新版本。請向文件持有人或發證學校索取最新版本。",
    ),
    "verification_limit_reached": (
        "This document has been verified {limit} times, its limit. It is genuine, but ask the "
        "holder to request a new document.",
        "此文件已驗證 {limit} 次，驗證次數已用完。文件本身無誤，請文件持有人重新申請。",
    ),
    "status_stale": (
        "The document is authentic, but the school's status list expired on {expires} and could "
        "not be refreshed: its state is as of {issued_at}.",
        "文件確為真本，但學校的狀態清單已於{expires}過期且無法更新：狀態以{issued_at}為準。",
    ),
    "busy": (
        "The verifier is busy checking other files and did not read this one. Try again in a "
        "minute.",
        "驗證服務正忙於檢查其他檔案，未能讀取此檔案。請稍候一分鐘再試。",
    ),
    "bad_request": (
        "The request could not be read as an upload (it was cut short, broken, or held no "
        "file). Send one PDF file: in the form field named 'file', or as the whole body with "
        "Content-Type: application/pdf.",
        "無法將此要求讀取為上傳的檔案（內容不完整、格式損壞，或沒有檔案）。請上傳一個 PDF 檔案："
        "放在名為 file 的表單欄位中，或以 Content-Type: application/pdf 作為整個要求內容送出。",
    ),
    # copy_of: the issued document the kept signature was made for (type, number when the
    # copy's twin gives it unambiguously, school, date; verifier/resaved.py), or "a document
    # signed by <school>" when the list names none. Never the copy's contents.
    "resaved_copy": (
        "This is a re-saved copy of {copy_of}; ask the holder for the original attachment. A "
        "file that was opened and saved again by a PDF program keeps the school's signature, "
        "but it is no longer the file the school issued, and its contents cannot be vouched "
        "for: they may differ from the document issued.",
        "這是{copy_of_zh}經另存後的副本；請向文件持有人索取原始附件。"
        "以 PDF 程式開啟後另存的檔案雖保留學校的簽章，但已不是學校核發的檔案，"
        "其內容無法確認，可能與核發的文件不同。",
    ),
    # A file whose one signature can no longer be read, not laid out as signed: re-saved by a
    # program that damaged the signature (pypdf, on every print-locked document) or changed.
    "signature_damaged": (
        "The file's digital signature can no longer be read, and the file is not the one that "
        "was signed: it was re-saved by a PDF program that damaged the signature (some do so "
        "with print-locked documents such as transcripts), or it was changed. Nothing in it "
        "can be verified: ask the holder for the original attachment.",
        "此檔案的數位簽章已無法讀取，且已不是當初簽署的檔案：檔案曾以 PDF 程式另存而損壞了簽章"
        "（部分程式另存成績單等鎖定列印的文件時會如此），或檔案遭到修改。"
        "其內容皆無法驗證，請向文件持有人索取原始附件。",
    ),
    # A multipart form the server cannot read: broken parts, or a file name not in UTF-8 (a
    # Big5 name from an older Windows tool), for which werkzeug drops the whole form.
    "form_unreadable": (
        "The form sent could not be read: its parts are broken, or a file name is not written "
        "in UTF-8. Send the file again from the verification page, or send the PDF itself as "
        "the body with Content-Type: application/pdf.",
        "無法讀取送出的表單：表單格式有誤，或檔名不是以 UTF-8 編碼。"
        "請從驗證網頁重新上傳，或以 Content-Type: application/pdf 直接送出 PDF 檔本身。",
    ),
    # An address or a method the verifier does not serve (the app's and the front's 404, 405).
    "not_found": (
        "There is nothing at this address. To verify a document, open the verification page "
        "(/verify); programs use the API described at /api/v1/openapi.yaml.",
        "此網址沒有任何內容。若要驗證文件，請開啟驗證網頁（/verify）；"
        "程式請使用 /api/v1/openapi.yaml 所述的 API。",
    ),
    "method_not_allowed": (
        "This address does not take this kind of request (its HTTP method). A file is sent with "
        "POST to /api/v1/verify or /verify; everything else is read with GET.",
        "此網址不接受這種請求（HTTP 方法）。檔案請以 POST 送至 /api/v1/verify 或 /verify；"
        "其餘內容請以 GET 讀取。",
    ),
    "batch_empty": (
        "No file was sent. Add the documents to check: PDF files, or one ZIP file of them.",
        "未收到任何檔案。請加入要驗證的文件：PDF 檔，或一個內含 PDF 檔的 ZIP 壓縮檔。",
    ),
    "batch_too_many": (
        "The batch holds {count} files; at most {limit} are checked at once. Nothing was "
        "checked: split it into smaller batches.",
        "此批共有 {count} 個檔案，每批最多 {limit} 個。未進行任何驗證，請分成較小的批次。",
    ),
    "batch_too_large": (
        "The files come to more than {limit_mb} MB{where}, the most checked at once. Nothing "
        "was checked: split them into smaller batches.",
        "檔案合計超過 {limit_mb} MB{where_zh}，超過每批上限。未進行任何驗證，請分成較小的批次。",
    ),
    "archive_nested": (
        "The ZIP file holds another archive ({member}). Nothing was checked: put the PDF files "
        "themselves in one ZIP file, with no archive inside it.",
        "ZIP 壓縮檔中還有另一個壓縮檔（{member}）。未進行任何驗證，"
        "請將 PDF 檔本身放進同一個 ZIP 檔，"
        "其中不要再有壓縮檔。",
    ),
    "archive_unsafe_name": (
        "The ZIP file holds an entry with an unsafe name ({member}): a path leaving its folder, "
        "an absolute path or a link. Nothing was checked: make a new ZIP file of the PDF files.",
        "ZIP 壓縮檔中有名稱不安全的項目（{member}）：離開所在資料夾的路徑、絕對路徑或連結。"
        "未進行任何驗證，請重新將 PDF 檔壓縮成新的 ZIP 檔。",
    ),
    "archive_duplicate_name": (
        "The ZIP file holds two entries named {member}. Nothing was checked: give each file its "
        "own name.",
        "ZIP 壓縮檔中有兩個名為 {member} 的項目。未進行任何驗證，請讓每個檔案使用不同的名稱。",
    ),
    "archive_ratio": (
        "An entry of the ZIP file ({member}) expands more than {ratio}:1 when extracted, as a "
        '"ZIP bomb" does; documents never do. Nothing was checked.',
        "ZIP 壓縮檔中的項目（{member}）解壓縮後膨脹超過 {ratio} 倍，如同「ZIP 炸彈」；"
        "正常文件不會如此。未進行任何驗證。",
    ),
    "archive_damaged": (
        "The ZIP file cannot be read ({detail}). Nothing was checked: make a new ZIP file of "
        "the PDF files, without a password.",
        "無法讀取此 ZIP 壓縮檔（{detail_zh}）。未進行任何驗證，"
        "請重新將 PDF 檔壓縮成不設密碼的 ZIP 檔。",
    ),
    "origin_not_allowed": (
        "The file was sent from a page of another website, which this verifier does not take "
        "files from, so it was not checked. Open the school's own verification page and try "
        "again.",
        "檔案是從其他網站的網頁送出，本驗證服務不接受來自該網站的檔案，因此未檢查此檔案。"
        "請開啟學校官方的驗證網頁後再試一次。",
    ),
    "receipt_unavailable": (
        "This verifier does not issue signed receipts. Verify without asking for a receipt, or "
        "ask the verifier's operator.",
        "此驗證服務不提供簽署的驗證收據。請在不要求收據的情況下驗證，或洽詢驗證服務的管理者。",
    ),
    "school_not_in_trust_list": (
        "The document is signed with a key that no school of the federation's trust list holds "
        "({signer}): the school is not, or no longer, a member, or the key is not a school's.",
        "此文件的簽章金鑰不屬於聯盟信任清單中的任何學校（{signer}）："
        "該校不是或已不再是聯盟成員，或此金鑰並非學校所有。",
    ),
    "school_not_active": (
        "{school} was {state} in the federation on {issued_at}, when this document was "
        "issued: a school issues no valid documents then.",
        "本文件核發時（{issued_at}），{school_zh}在聯盟中的狀態為{state_zh}，"
        "此期間核發的文件無效。",
    ),
    "key_not_valid_at_issuance": (
        "The key that signed this document was not valid for {school} on {issued_at}, when "
        "the document was issued (valid from {valid_from} to {valid_to}{revoked}).",
        "簽署本文件的金鑰於文件核發時（{issued_at}）並非{school_zh}的有效金鑰"
        "（有效期間{valid_from}至{valid_to}{revoked_zh}）。",
    ),
    "key_compromised": (
        "The key that signed this document was reported compromised on {revoked_at}, and "
        "{school}'s transparency log does not show the document issued before that: it cannot "
        "be told apart from a forgery. Ask the school for a new document.",
        "簽署本文件的金鑰已於{revoked_at}通報外洩，且{school_zh}的透明紀錄無法證明本文件"
        "於外洩前核發，無法與偽造文件區分。請向學校申請新文件。",
    ),
    "long_term_unproven": (
        "The certificate that signed this document expired on {expired}, and the document does "
        "not carry what proves it was signed while the certificate was valid: {detail}. Ask "
        "the school for a new copy of the document.",
        "簽署本文件的憑證已於{expired}到期，且文件未附可證明其係於憑證有效期間簽署的資料："
        "{detail_zh}。請向學校申請文件的新副本。",
    ),
    "signed_after_revocation": (
        "The certificate that signed this document was revoked on {revoked}, and the earliest "
        "time its timestamps prove the document existed is {signed}, after the revocation: it "
        "cannot be told apart from a forgery. Ask the school for a new document.",
        "簽署本文件的憑證已於{revoked}撤銷，而文件時戳所能證明其存在的最早時間為{signed}，"
        "晚於撤銷時間，無法與偽造文件區分。請向學校申請新文件。",
    ),
    "status_list_of_another_school": (
        "{school}'s status list is signed with the key of another school ({other}), so the "
        "document's state cannot be trusted. Contact {school}.",
        "{school_zh}的狀態清單係以另一所學校（{other}）的金鑰簽署，"
        "無法採信文件狀態。請聯絡{school_zh}。",
    ),
    "listed_by_another_school": (
        "The document is signed by {signer_school} but listed as issued by {school}: a school "
        "vouches only for the documents it signs.",
        "本文件由{signer_school_zh}簽署，卻列於{school_zh}的核發紀錄中；"
        "學校只能為自己簽署的文件背書。",
    ),
    "school_suspended": (
        "The document was issued while {school} was a member in good standing, but the school "
        "has been suspended from the federation since {since}. Confirm with the school or the "
        "federation before relying on it.",
        "本文件核發時{school_zh}為聯盟正式成員，但該校自{since}起遭聯盟停權。"
        "採信前請向學校或聯盟確認。",
    ),
}

CHECKS: dict[str, tuple[str, str]] = {
    "size_ok": (
        "{size} bytes, within the {limit_mb} MB limit",
        "{size} 位元組，未超過 {limit_mb} MB",
    ),
    "size_empty": ("the file is empty", "檔案為空"),
    "size_too_large": ("larger than {limit_mb} MB", "超過 {limit_mb} MB"),
    "form_broken": ("the multipart form cannot be read", "無法讀取 multipart 表單"),
    "no_such_address": ("no such address", "無此網址"),
    "method_not_taken": ("not a method this address takes", "此網址不接受此 HTTP 方法"),
    "type_pdf": ("starts like a PDF file", "檔頭為 PDF 格式"),
    "type_archive": ("a {kind} archive", "{kind} 壓縮檔"),
    "type_other": ("not a PDF file{kind}", "不是 PDF 檔{kind_zh}"),
    "parse_ok": ("the PDF structure reads correctly", "PDF 結構可正確讀取"),
    "parse_failed": ("cannot be read: {detail}", "無法讀取：{detail_zh}"),
    "parse_encrypted": ("needs a password", "需要密碼"),
    "parse_busy": (
        "not read: the verifier is busy with other files",
        "未讀取：驗證服務正忙於處理其他檔案",
    ),
    "parse_locked_ok": (
        "print-locked by the issuer; opens without a password",
        "發證單位已鎖定列印；不需密碼即可開啟",
    ),
    "sig_one": ("one certification signature by {signer}", "一個由 {signer} 簽署的認證簽章"),
    "sig_none": ("no signature", "沒有簽章"),
    "sig_many": (
        "{count} signatures where the issuer makes exactly one",
        "共有 {count} 個簽章，發證單位僅簽署一個",
    ),
    "sig_not_certification": (
        "the signature is not a certification signature forbidding changes",
        "簽章不是禁止修改的認證簽章",
    ),
    "sig_damaged": (
        "one signature, whose value is no longer a signature; the file is not laid out as signed",
        "一個簽章，但其簽章值已無法讀取；檔案已非簽章時的編排",
    ),
    "sig_intact": ("the signature matches the signed bytes", "簽章與已簽署的內容相符"),
    "sig_broken": ("the signed bytes were changed", "已簽署的內容遭到修改"),
    "sig_error": ("the signature cannot be checked: {detail}", "無法檢查簽章：{detail}"),
    "chain_trusted": ("chains to the trusted root of {issuer}", "可連結至 {issuer} 的受信任根憑證"),
    "chain_untrusted": (
        "does not chain to a trusted issuer root",
        "無法連結至受信任的發證單位根憑證",
    ),
    "coverage_entire": ("the signature covers the entire file", "簽章涵蓋整個檔案"),
    "coverage_partial": (
        "bytes outside the signature: {detail}",
        "有未受簽章保護的內容：{detail_zh}",
    ),
    "mods_none": ("no changes after signing", "簽章後未經修改"),
    "mods_found": ("changes after signing: {detail}", "簽章後遭修改：{detail_zh}"),
    # An issued document with long-term validation data added since (verifier/ltv.py).
    "mods_ltv_added": (
        "long-term validation data added after issuance ({timestamps} document timestamps and "
        "the validation data they cover); nothing else was changed",
        "核發後加入了長期驗證資料（{timestamps} 個文件時戳及其涵蓋的驗證資料），未有其他修改",
    ),
    "coverage_issued_revision": (
        "the signature covers the issued revision of this file, which {issuer}'s signed status "
        "list lists as issued; later revisions only add long-term validation data",
        "簽章涵蓋此檔案的核發版本，{issuer_zh}簽署的狀態清單列其為核發文件；之後的版本僅加入長期驗證資料",
    ),
    "status_found": (
        "listed in status list version {version} of {issuer}",
        "列於 {issuer_zh} 第 {version} 版狀態清單",
    ),
    "status_missing": (
        "not in status list version {version} of {issuer}",
        "未列於 {issuer_zh} 第 {version} 版狀態清單",
    ),
    "status_resaved": (
        "these bytes are not in status list version {version} of {issuer}; the signature they "
        "keep is the one made for the {type} it lists as issued on {issued_at}",
        "此檔案未列於 {issuer_zh} 第 {version} 版狀態清單；其保留的簽章屬於該清單所列、"
        "於{issued_at}核發的{type_zh}",
    ),
    "state_original_active": (
        "the issued document the signature was made for is current",
        "簽章所屬的核發文件為最新且有效",
    ),
    "status_unavailable": ("no status list could be loaded", "無法載入狀態清單"),
    "status_stale": ("the status list expired on {expires}", "狀態清單已於{expires}過期"),
    "log_included": (
        "its {events} event(s) are in the transparency log at checkpoint {size} ({root})",
        "其 {events} 筆事件已收錄於透明紀錄檢查點 {size}（{root}）",
    ),
    "log_not_published": (
        "the issuer publishes no transparency log",
        "發證單位未公布透明紀錄",
    ),
    "log_failed": (
        "the transparency log does not confirm the status list: {detail}",
        "透明紀錄無法佐證狀態清單：{detail}",
    ),
    "state_active": ("the document is current", "文件為最新且有效"),
    "state_superseded": (
        "replaced by a newer version on {superseded_at}",
        "已於{superseded_at}由新版本取代",
    ),
    "state_revoked": ("voided on {revoked_at}", "已於{revoked_at}作廢"),
    "count_unlimited": ("no verification limit", "無驗證次數限制"),
    "count_used": ("verification {used} of {limit}", "第 {used} 次驗證，共 {limit} 次"),
    "count_reached": ("all {limit} verifications used", "{limit} 次驗證已用完"),
    "count_not_counted": ("not counted: the result is not a success", "未計次：驗證結果非成功"),
    # A listed file's signature checks, proven by the status list rather than re-run: each says
    # so, and what the listing proves for that check (pdfcheck.proven_by_status_list).
    "proven_by_list": (
        "proven by the status list, not re-checked: {issuer}'s signed status list lists these "
        "exact bytes as issued, and {issuer} checked this signature when it issued them",
        "由狀態清單證明，未重新檢查：{issuer_zh}簽署的狀態清單列有與此檔案完全相同的內容，"
        "發證單位核發時已檢查此簽章",
    ),
    "proven_by_list_chain": (
        "proven by the status list, not re-checked: {issuer} lists these bytes as a document "
        "it issued, signed with its own certificate",
        "由狀態清單證明，未重新檢查：{issuer_zh}將此檔案列為其核發、以其憑證簽署的文件",
    ),
    "chain_long_term": (
        "the signing certificate expired on {expired}; the document's timestamps prove it was "
        "signed on {signed}, while the certificate was valid and not revoked (AdES long-term "
        "validation)",
        "簽章憑證已於{expired}到期；文件時戳證明其係於{signed}簽署，當時憑證有效且未撤銷"
        "（AdES 長期驗證）",
    ),
    "chain_revoked_before": (
        "the signing certificate was revoked on {revoked}, before {signed}, the earliest time "
        "the document's timestamps prove it existed (AdES validation as of that time)",
        "簽章憑證已於{revoked}撤銷，早於文件時戳所能證明其存在的最早時間{signed}"
        "（依該時間所作的 AdES 驗證）",
    ),
    "chain_not_long_term": (
        "the signing certificate expired on {expired}, and {detail}",
        "簽章憑證已於{expired}到期，且{detail_zh}",
    ),
    "proven_by_list_coverage": (
        "proven by the status list, not re-checked: the listed fingerprint is of the whole "
        "file, so every byte is as issued",
        "由狀態清單證明，未重新檢查：狀態清單所列指紋涵蓋整個檔案，每個位元組皆與核發時相同",
    ),
    "proven_by_list_modifications": (
        "proven by the status list, not re-checked: the file is byte for byte the one "
        "issued, so nothing was added after signing",
        "由狀態清單證明，未重新檢查：此檔案與核發時逐位元組相同，簽章後未加入任何內容",
    ),
    "count_offline": (
        "not counted: an offline check cannot count verifications",
        "未計次：離線驗證無法計算驗證次數",
    ),
    "batch_refused": ("{what}", "{what_zh}"),
    "origin_not_listed": (
        "sent from a page of {origin}, not a site this verifier takes files from",
        "由 {origin} 的網頁送出，該網站不在本驗證服務接受的來源之列",
    ),
    "receipt_off": ("no receipt key is configured", "未設定收據簽章金鑰"),
    "sig_resaved": (
        "a valid signature by {signer}, kept when the file was re-saved: it no longer covers "
        "these bytes",
        "{signer} 的有效簽章在檔案另存時被保留，但已不涵蓋此檔案的內容",
    ),
    "school_key_valid": (
        "signed with a key of {school}, valid when the document was issued ({issued_at})",
        "以{school_zh}的金鑰簽署，該金鑰於文件核發時（{issued_at}）有效",
    ),
    "school_key_logged": (
        "signed with a key of {school} later reported compromised ({revoked_at}); the school's "
        "log held the document at {logged_at}, before that",
        "以{school_zh}其後通報外洩（{revoked_at}）的金鑰簽署；該校透明紀錄於{logged_at}"
        "已收錄本文件，早於外洩時間",
    ),
    "school_records_kept": (
        "{school} {state} on {since}; {successor} keeps its records",
        "{school_zh}已於{since}{state_zh}；由{successor_zh}保管其紀錄",
    ),
    "school_key_problem": ("{detail}", "{detail_zh}"),
    "status_missing_federation": (
        "not in the status list of any school of the trust list",
        "未列於信任清單中任何學校的狀態清單",
    ),
    "status_other_school": (
        "the status list of {school} is signed with the key of {other}",
        "{school_zh}的狀態清單係以 {other} 的金鑰簽署",
    ),
    "trust_list_unavailable": (
        "the federation's trust list could not be loaded: {detail}",
        "無法載入聯盟信任清單：{detail}",
    ),
    "skipped_earlier": ("skipped: an earlier check failed", "略過：前面的檢查未通過"),
    "bad_upload": (
        "the request held no single whole file",
        "要求中沒有一個完整的檔案",
    ),
    "internal_error": ("the verifier could not finish this check", "驗證服務無法完成此次檢查"),
}

# The words of the pages (titles, steps, verdicts, advice, check names) are the public site's:
# one catalog, site/strings.toml, shipped as the package certseal_site, read as data (the site
# builder exports the same file to the browser). /verify and the site's Verify page share it, so
# they cannot drift apart; the tests check that every key used here is there.


@functools.cache
def _site_strings() -> dict[str, tuple[str, str]]:
    return {k: (v["en"], v["zh-TW"]) for k, v in load_strings().items()}


def ui(lang: Lang) -> dict[str, str]:
    """The page strings for one language, with check names also under ``check:<name>``."""
    i = 1 if lang == "zh-TW" else 0
    out = {k: v[i] for k, v in _site_strings().items()}
    out.update({f"check:{k[6:]}": v for k, v in out.items() if k.startswith("check_")})
    return out


# What the person should do next, from the reason codes: the first rule that applies comes
# first, each piece of advice once. site/static/common.js (NEXT_STEPS) holds the same table for
# the site's Verify page; a test compares the two.
NEXT_STEPS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("zip_archive",), "next_zip"),
    (("not_pdf", "empty_file", "too_large"), "next_not_pdf"),
    (("revoked",), "next_revoked"),
    (("superseded",), "next_superseded"),
    (("verification_limit_reached",), "next_limit"),
    (
        (
            "not_issued",
            "signature_invalid",
            "modified_after_signing",
            "no_signature",
            "malformed_pdf",
            "encrypted",
            "untrusted_signer",
            "resaved_copy",
        ),
        "next_resaved",
    ),
    (("school_not_in_trust_list",), "next_not_member"),
    (
        (
            "school_not_active",
            "key_not_valid_at_issuance",
            "key_compromised",
            "long_term_unproven",
            "signed_after_revocation",
        ),
        "next_new_document",
    ),
    (("status_list_of_another_school", "listed_by_another_school"), "next_ask_school"),
    (("school_suspended",), "next_suspended"),
    (("status_unavailable",), "next_unavailable"),
    (("busy",), "next_busy"),
    (("status_stale",), "next_stale"),
)


def next_steps(verdict: str, codes: tuple[str, ...] | list[str]) -> list[str]:
    """The string keys of the advice for a verdict and its reason codes, in order."""
    if verdict == "success":
        return ["next_success"]
    out = [key for group, key in NEXT_STEPS if any(c in codes for c in group)]
    return list(dict.fromkeys(out)) or ["next_failure"]


class _Missing(dict[str, Any]):
    """A missing parameter formats as nothing. Defined once: a class built on every call cost
    about 10 µs, a tenth of a listed document's answer."""

    def __missing__(self, key: str) -> str:
        return ""


def _format(template: str, params: dict[str, Any], lang: Lang, zone: str) -> str:
    # A time in a sentence is written for people (certseal.timeutil.people_time); the JSON
    # fields beside the sentence keep the RFC 3339 form.
    if any(isinstance(v, str) and "T" in v and "Z" in v for v in params.values()):
        params = {
            k: people_times(v, lang, zone) if isinstance(v, str) else v for k, v in params.items()
        }
    return template.format_map(_Missing(params))


def reason_message(
    code: str, lang: Lang, params: dict[str, Any], zone: str = DEFAULT_TIME_ZONE
) -> str:
    en, zh = REASONS[code]
    return _format(zh if lang == "zh-TW" else en, params, lang, zone)


def check_detail(
    key: str, lang: Lang, params: dict[str, Any], zone: str = DEFAULT_TIME_ZONE
) -> str:
    en, zh = CHECKS[key]
    return _format(zh if lang == "zh-TW" else en, params, lang, zone)
