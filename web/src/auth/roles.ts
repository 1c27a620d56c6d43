export const isAdmin = (roles: readonly string[] | undefined): boolean => !!roles?.includes("admin");
