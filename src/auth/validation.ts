// What a username and a password may be, with the message a person reads when not.
export const USERNAME_RULE = "3 to 32 letters, digits, dots, underscores or hyphens";
export const PASSWORD_RULE = "8 to 1024 characters";

const USERNAME = /^[A-Za-z0-9._-]{3,32}$/;

export function usernameProblem(username: string): string | undefined {
  return USERNAME.test(username) ? undefined : `Username: use ${USERNAME_RULE}.`;
}

export function passwordProblem(password: string): string | undefined {
  const length = [...password].length;
  return length >= 8 && length <= 1024 ? undefined : `Password: use ${PASSWORD_RULE}.`;
}
