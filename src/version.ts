export const WARDEN_VERSION = "0.1.0";
