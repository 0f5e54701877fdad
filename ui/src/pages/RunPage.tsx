export function RunPage({ id }: { id: number }) { return <div className="page">run {id}</div>; }
