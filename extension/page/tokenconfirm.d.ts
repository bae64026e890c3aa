// Type declarations for tokenconfirm.js (the tokenconfirm page library).

/** Stable error codes: the page-level ones and every agent code of docs/protocol.md 6.6. */
export type TokenconfirmErrorCode =
  | "extension-missing"
  | "agent-missing"
  | "agent-too-old"
  | "agent-disconnected"
  | "timeout"
  | "busy"
  | "cancelled"
  | "origin-mismatch"
  | "origin-not-allowed"
  | "invalid-challenge"
  | "challenge-expired"
  | "no-modules"
  | "no-token"
  | "certificate-not-found"
  | "pin-incorrect"
  | "pin-locked"
  | "pin-length-invalid"
  | "device-removed"
  | (string & {});

export interface Messages {
  en: string;
  ru: string;
}

export declare class TokenconfirmError extends Error {
  readonly code: TokenconfirmErrorCode;
  readonly messages: Messages;
  /** The message for the citizen in `lang`. */
  text(lang: "ru" | "en"): string;
}

export interface Status {
  extension: { version: string } | null;
  agent: { version: string; protocol: number } | null;
}

/** A challenge exactly as the server issued it (docs/protocol.md section 2). */
export interface Challenge {
  version: 1;
  nonce: string;
  origin: string;
  account: string;
  purpose: "account-confirmation" | "account-registration";
  issuedAt: string;
  expiresAt: string;
}

export interface ConfirmOptions {
  /** Language of the confirmation window and the agent's dialogs. Default "ru". */
  lang?: "ru" | "en";
  /** Overall deadline including the citizen's interaction. Default 300000. */
  timeoutMs?: number;
}

/** Rejects with `extension-missing` when the extension does not answer within 1 s. */
export declare function status(): Promise<Status>;

/** Resolves with the envelope: standard base64 of the CMS SignedData DER. */
export declare function confirm(challenge: Challenge, options?: ConfirmOptions): Promise<string> & {};
export declare namespace confirm {
  /** The id of the certificate used by the last successful confirm(). */
  let lastCertificateId: string | undefined;
}
